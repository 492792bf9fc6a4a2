//! Nothing stuck, nothing silently lost: a window of any size syncs; an order JST sends
//! broken (invalid UTF-8, a lone surrogate) or too large for NATS is dead-lettered alone while
//! the rest of its window syncs; a window that keeps failing is dead-lettered after its
//! attempts, the next window goes on, and `dlq replay` syncs it later. The real fetcher
//! against the simulator and a real nats-server.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDate;
use j2t_domain::{DeadLetter, DeadLetterReason, Stage};
use j2t_simulator::{DemoSpec, JstFaults, demo_orders};
use j2t_stores::{DeadLetters, DlqFilter};
use j2t_topology::names;
use serde_json::{Value, json};

use j2t_e2e::harness::{Stack, closed_windows, eventually, published_io_ids};

/// `orders` Confirmed orders shipped over `days` days ending `end`, stored in the simulator.
async fn seed(stack: &Stack, orders: u32, days: u32, end: NaiveDate) -> Vec<Value> {
    let mut orders = demo_orders(
        &DemoSpec {
            orders,
            days,
            seed: u64::from(orders),
            end_date: Some(end),
        },
        480,
    );
    for order in &mut orders {
        order["status"] = json!("Confirmed");
    }
    for chunk in orders.chunks(500) {
        stack.admin.add_orders(chunk).await.expect("seeding");
    }
    orders
}

fn ids(orders: &[Value]) -> BTreeSet<i64> {
    orders.iter().filter_map(|o| o["io_id"].as_i64()).collect()
}

/// Fast JST limits on both sides, so big windows take seconds.
async fn fast(stack: &Stack, mut faults: JstFaults) -> Vec<(&'static str, String)> {
    faults.per_second = Some(1_000);
    faults.per_minute = Some(60_000);
    stack.admin.set_jst_faults(&faults).await.expect("faults");
    vec![
        ("J2T__FETCHER__REQUESTS_PER_SECOND", "500".into()),
        ("J2T__FETCHER__REQUESTS_PER_MINUTE", "30000".into()),
        ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
        ("J2T__FETCHER__LAG_SECS", "1".into()),
    ]
}

async fn js(stack: &Stack) -> async_nats::jetstream::Context {
    async_nats::jetstream::new(async_nats::connect(stack.nats_url()).await.expect("nats"))
}

/// Every dead letter on `subject` (`j2t.dlq.<stage>.<reason>`).
async fn letters(js: &async_nats::jetstream::Context, subject: &str) -> Vec<DeadLetter> {
    let mut found = Vec::new();
    let Ok(mut stream) = js.get_stream(names::DLQ_STREAM).await else {
        return found;
    };
    let Ok(info) = stream.info().await else {
        return found;
    };
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if let Ok(msg) = stream.get_raw_message(seq).await
            && msg.subject.as_str() == subject
            && let Ok(letter) = serde_json::from_slice(&msg.payload)
        {
            found.push(letter);
        }
    }
    found
}

/// Waits until exactly `expected` are in the raw-orders stream, each once.
async fn assert_published_once(stack: &Stack, expected: &BTreeSet<i64>, limit: Duration) {
    let nats = stack.nats_url();
    eventually(limit, "every expected order published", || async {
        let published = published_io_ids(&nats).await;
        expected
            .iter()
            .all(|id| published.contains_key(id))
            .then_some(())
    })
    .await;
    let published = published_io_ids(&nats).await;
    let twice: Vec<_> = published.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "published more than once: {twice:?}");
    let got: BTreeSet<i64> = published.keys().copied().collect();
    assert_eq!(&got, expected, "published exactly the expected orders");
}

/// More orders in one window than JetStream's 5,000 pending publishes: the fetcher awaits
/// PubAcks as it goes, so the window syncs and closes.
#[tokio::test(flavor = "multi_thread")]
async fn a_window_of_six_thousand_orders_syncs_completely() {
    let stack = Stack::start().await;
    let day = j2t_simulator::jst_today(480) - chrono::Duration::days(1);
    let orders = seed(&stack, 6_000, 1, day).await;
    let mut env = fast(&stack, JstFaults::default()).await;
    env.push(("J2T__FETCHER__START_TIME", format!("{day} 00:00:00")));
    let _fetcher = stack.spawn("jst2tplus-fetcher", &env);
    let expected = ids(&orders);
    assert_eq!(expected.len(), 6_000);
    assert_published_once(&stack, &expected, Duration::from_secs(120)).await;
    let js = js(&stack).await;
    let closed = eventually(Duration::from_secs(30), "the window closed", || async {
        let windows = closed_windows(&js).await;
        (!windows.is_empty()).then_some(windows)
    })
    .await;
    assert_eq!(closed[0].window.start.date(), day, "{closed:?}");
    assert_eq!(closed[0].orders, 6_000);
}

/// One order's remark in invalid UTF-8, another's with a lone surrogate escape: each is
/// dead-lettered with its raw text, the rest of the window is published and closed.
#[tokio::test(flavor = "multi_thread")]
async fn orders_with_bad_bytes_are_dead_lettered_and_the_rest_syncs() {
    let stack = Stack::start().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    let orders = seed(&stack, 40, 1, day).await;
    let bad_bytes = orders[3]["io_id"].as_i64().expect("io_id");
    let surrogate = orders[7]["io_id"].as_i64().expect("io_id");
    let faults = JstFaults {
        bad_bytes_io_ids: vec![bad_bytes],
        lone_surrogate_io_ids: vec![surrogate],
        ..Default::default()
    };
    let mut env = fast(&stack, faults).await;
    env.push(("J2T__FETCHER__START_TIME", format!("{day} 00:00:00")));
    let _fetcher = stack.spawn("jst2tplus-fetcher", &env);

    let mut expected = ids(&orders);
    expected.remove(&bad_bytes);
    expected.remove(&surrogate);
    assert_published_once(&stack, &expected, Duration::from_secs(60)).await;
    let js = js(&stack).await;
    let subject = names::dlq_subject(Stage::Fetcher, DeadLetterReason::BadJson);
    let found = eventually(Duration::from_secs(30), "two dead letters", || async {
        let found = letters(&js, &subject).await;
        (found.len() >= 2).then_some(found)
    })
    .await;
    assert_eq!(found.len(), 2, "one letter per bad order: {found:?}");
    for (io_id, mark) in [(bad_bytes, "bad \u{fffd}"), (surrogate, r"\ud800")] {
        let letter = found
            .iter()
            .find(|l| l.error.contains(&io_id.to_string()))
            .unwrap_or_else(|| panic!("a letter for {io_id}: {found:?}"));
        let raw = letter.payload.as_str().expect("raw text");
        assert!(raw.contains(mark), "{raw}");
        assert!(raw.contains(&io_id.to_string()), "{raw}");
    }
    let closed = eventually(Duration::from_secs(30), "the window closed", || async {
        let windows = closed_windows(&js).await;
        (!windows.is_empty()).then_some(windows)
    })
    .await;
    assert_eq!(closed[0].orders, expected.len() as u64);
}

/// An order larger than NATS's max payload (1 MB) is dead-lettered with its io_id and the
/// start of its text; the rest of the window syncs.
#[tokio::test(flavor = "multi_thread")]
async fn an_order_too_large_for_nats_is_dead_lettered_and_the_rest_syncs() {
    let stack = Stack::start().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 21).expect("date");
    let mut orders = demo_orders(
        &DemoSpec {
            orders: 20,
            days: 1,
            seed: 4,
            end_date: Some(day),
        },
        480,
    );
    for order in &mut orders {
        order["status"] = json!("Confirmed");
    }
    let big = orders[5]["io_id"].as_i64().expect("io_id");
    orders[5]["remark"] = json!("大".repeat(450_000));
    for order in &orders {
        stack
            .admin
            .add_orders(std::slice::from_ref(order))
            .await
            .expect("seeding");
    }
    let mut env = fast(&stack, JstFaults::default()).await;
    env.push(("J2T__FETCHER__START_TIME", format!("{day} 00:00:00")));
    let _fetcher = stack.spawn("jst2tplus-fetcher", &env);

    let mut expected = ids(&orders);
    expected.remove(&big);
    assert_published_once(&stack, &expected, Duration::from_secs(60)).await;
    let js = js(&stack).await;
    let subject = names::dlq_subject(Stage::Fetcher, DeadLetterReason::TooLarge);
    let letter = eventually(Duration::from_secs(30), "the dead letter", || async {
        letters(&js, &subject).await.pop()
    })
    .await;
    assert_eq!(letter.payload["io_id"], json!(big));
    assert!(
        letter.payload["bytes"]
            .as_u64()
            .is_some_and(|n| n > 1_000_000)
    );
    assert!(
        letter.payload["truncated"]
            .as_str()
            .is_some_and(|t| t.len() <= 4096)
    );
}

/// Every answer for the first day's window lacks `code`: after its attempts the window is
/// dead-lettered and the second day syncs; once JST is fixed, `dlq replay` syncs the first.
#[tokio::test(flavor = "multi_thread")]
async fn a_window_that_always_fails_is_dead_lettered_and_replayed_later() {
    let stack = Stack::start().await;
    let end = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let orders = seed(&stack, 60, 2, end).await;
    let first_day = end - chrono::Duration::days(1);
    let on_first_day = |o: &&Value| {
        o["io_date"]
            .as_str()
            .is_some_and(|d| d.starts_with(&first_day.to_string()))
    };
    let poisoned = orders
        .iter()
        .find(on_first_day)
        .and_then(|o| o["io_id"].as_i64())
        .expect("an order on the first day");
    let faults = JstFaults {
        omit_fields: vec!["code".into()],
        omit_fields_io_ids: vec![poisoned],
        ..Default::default()
    };
    let mut env = fast(&stack, faults).await;
    env.extend([
        ("J2T__FETCHER__START_TIME", format!("{first_day} 00:00:00")),
        ("J2T__FETCHER__MAX_WINDOW_ATTEMPTS", "2".into()),
        ("J2T__FETCHER__PAGE_ATTEMPTS", "2".into()),
    ]);
    let _fetcher = stack.spawn("jst2tplus-fetcher", &env);

    let second_day: BTreeSet<i64> = ids(&orders)
        .into_iter()
        .filter(|id| {
            !orders
                .iter()
                .filter(on_first_day)
                .any(|o| o["io_id"].as_i64() == Some(*id))
        })
        .collect();
    assert!(!second_day.is_empty());
    assert_published_once(&stack, &second_day, Duration::from_secs(60)).await;
    let js = js(&stack).await;
    let subject = names::dlq_subject(Stage::Fetcher, DeadLetterReason::WindowFailed);
    let letter = eventually(
        Duration::from_secs(30),
        "the window's dead letter",
        || async { letters(&js, &subject).await.pop() },
    )
    .await;
    assert_eq!(letter.attempts, 2);
    assert!(letter.error.contains("code"), "{}", letter.error);
    let window_id = letter.payload["window_id"]
        .as_str()
        .expect("window id")
        .to_string();
    assert!(
        window_id.starts_with(&first_day.format("%Y%m%d").to_string()),
        "{letter:?}"
    );

    // JST is fixed; the operator replays the dead letter.
    stack
        .admin
        .set_jst_faults(&JstFaults {
            per_second: Some(1_000),
            per_minute: Some(60_000),
            ..Default::default()
        })
        .await
        .expect("faults");
    let cfg = j2t_config::Config::load_with_env(None, Some(stack.env.iter().cloned().collect()))
        .expect("config");
    let topology = j2t_topology::open(&cfg).await.expect("nats");
    let dlq = DeadLetters::new(&topology);
    let entries = dlq
        .list(&DlqFilter {
            reason: Some(DeadLetterReason::WindowFailed),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(entries.len(), 1);
    dlq.replay(&entries[0]).await.expect("replay");
    assert_published_once(&stack, &ids(&orders), Duration::from_secs(60)).await;
    eventually(
        Duration::from_secs(30),
        "the replayed window closed",
        || async {
            let windows = closed_windows(&js).await;
            windows
                .iter()
                .any(|w| w.window.id() == window_id)
                .then_some(())
        },
    )
    .await;
}
