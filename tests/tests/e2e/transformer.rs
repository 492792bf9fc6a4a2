//! The transformer across replicas and windows: two replicas with one killed mid-run emit
//! every voucher once; an order that reaches two windows is merged once; `whereis` finds
//! where an order went.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream;
use j2t_domain::{VoucherEnvelope, Window, WindowClosed};
use j2t_e2e::harness::{Stack, eventually};
use j2t_simulator::DemoSpec;
use j2t_testkit::Service;

use crate::support::cli;
use j2t_topology::names;
use jst2tplus::reconcile;
use serde_json::{Value, json};

/// Every voucher in the vouchers stream.
async fn vouchers_in_stream(nats_url: &str) -> Vec<VoucherEnvelope> {
    let Ok(client) = async_nats::connect(nats_url).await else {
        return Vec::new();
    };
    let js = jetstream::new(client);
    let Ok(mut stream) = js.get_stream(names::VOUCHERS_STREAM).await else {
        return Vec::new();
    };
    let Ok(info) = stream.info().await else {
        return Vec::new();
    };
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    let mut vouchers = Vec::new();
    for seq in first..=last {
        if let Ok(m) = stream.get_raw_message(seq).await
            && let Ok(v) = serde_json::from_slice(&m.payload)
        {
            vouchers.push(v);
        }
    }
    vouchers
}

fn whereis(stack: &Stack, io_id: i64) -> (bool, String) {
    cli(stack, &[], &["whereis", &io_id.to_string()])
}

#[tokio::test(flavor = "multi_thread")]
async fn two_transformers_one_killed_mid_run_emit_each_voucher_once() {
    let stack = Stack::start().await;
    let end = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    stack
        .admin
        .seed(&DemoSpec {
            orders: 600,
            days: 30,
            seed: 30,
            end_date: Some(end),
        })
        .await
        .expect("seed");
    let source = stack.admin.orders().await.expect("orders");
    let expected = reconcile::expected(&source, "Confirmed");
    let first = end - chrono::Duration::days(29);
    let env = [
        ("J2T__FETCHER__START_TIME", format!("{first} 00:00:00")),
        ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
        ("J2T__TRANSFORMER__ACK_WAIT_SECS", "5".into()),
    ];
    let _fetcher = stack.spawn("jst2tplus-fetcher", &env);
    let mut transformers: Vec<Service> = (0..2)
        .map(|_| stack.spawn("jst2tplus-transformer", &env))
        .collect();
    let _writer = stack.spawn("jst2tplus-writer", &env);
    let nats = stack.nats_url();
    eventually(Duration::from_secs(90), "some vouchers emitted", || async {
        (vouchers_in_stream(&nats).await.len() >= 6).then_some(())
    })
    .await;
    transformers[0].kill();

    let admin = &stack.admin;
    eventually(Duration::from_secs(180), "T+ sums to match JST", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(&expected, &dtos);
        (rows.len() == 30 && rows.iter().all(|r| r.matches)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let dtos = admin.voucher_dtos().await.expect("vouchers");
    assert!(reconcile::duplicate_codes(&dtos).is_empty());
    assert!(
        reconcile::by_day(&expected, &dtos)
            .iter()
            .all(|r| r.matches)
    );
    let emitted = vouchers_in_stream(&nats).await;
    let mut per_code: HashMap<&str, usize> = HashMap::new();
    for v in &emitted {
        *per_code.entry(v.external_code.as_str()).or_default() += 1;
    }
    assert!(
        per_code.values().all(|n| *n == 1),
        "a voucher emitted twice"
    );
    assert_eq!(emitted.len(), dtos.len());

    // whereis: a shipped order is in a written voucher; an unshipped one is unknown.
    let shipped = source
        .iter()
        .find(|o| o["status"] == "Confirmed")
        .and_then(|o| o["io_id"].as_i64())
        .expect("a Confirmed order");
    let holder = emitted
        .iter()
        .find(|v| v.io_ids.contains(&shipped))
        .expect("a voucher holds it");
    // A dry run of the same window from NATS renders the very same voucher.
    let (rendered, text) = cli(
        &stack,
        &[],
        &[
            "render",
            "--live-window",
            holder.window.as_str(),
            "--envelopes",
        ],
    );
    assert!(rendered, "{text}");
    assert!(text.contains(&holder.external_code), "{text}");

    let (found, text) = whereis(&stack, shipped);
    assert!(found, "{text}");
    assert!(text.contains(&holder.external_code), "{text}");
    assert!(text.contains("written (created)"), "{text}");
    let unshipped = source
        .iter()
        .find(|o| o["status"] == "WaitConfirm")
        .and_then(|o| o["io_id"].as_i64())
        .expect("an unshipped order");
    let (found, text) = whereis(&stack, unshipped);
    assert!(!found, "{text}");
    assert!(text.contains("unknown"), "{text}");
}

/// Publishes raw orders and a window-closed event as the fetcher would.
async fn close_window(js: &jetstream::Context, window: Window, orders: &[Value]) {
    let subject = names::orders_subject("manual", &window.id());
    for order in orders {
        let id = format!("manual:{}:{}", window.id(), order["io_id"]);
        j2t_topology::publish_json(js, &subject, &id, order)
            .await
            .expect("order");
    }
    let closed = WindowClosed {
        task: "manual".into(),
        window,
        orders_subject: subject,
        orders: orders.len() as u64,
    };
    j2t_topology::publish_json(
        js,
        &names::windows_subject("manual"),
        &format!("manual:{}", window.id()),
        &closed,
    )
    .await
    .expect("window");
}

fn order(io_id: i64, day: &str) -> Value {
    json!({
        "io_id": io_id, "status": "Confirmed", "io_date": format!("{day} 10:00:00"),
        "wms_co_id": 1, "remark": "",
        "items": [{"sku_id": "SKU-TEA-001", "qty": 2, "sale_price": 88.0, "sale_amount": 176.0}]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_in_two_windows_is_merged_once() {
    let stack = Stack::start().await;
    let _transformer = stack.spawn("jst2tplus-transformer", &[]);
    let js = jetstream::new(async_nats::connect(stack.nats_url()).await.expect("nats"));
    // Wait for the transformer to set up the topology.
    eventually(Duration::from_secs(20), "streams", || async {
        js.get_stream(names::WINDOWS_STREAM).await.ok().map(|_| ())
    })
    .await;
    let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("t");
    let first = Window {
        start: t("2026-11-20 00:00:00"),
        end: t("2026-11-20 23:59:59"),
    };
    let overlapping = Window {
        start: t("2026-11-20 12:00:00"),
        end: t("2026-11-21 23:59:59"),
    };
    close_window(
        &js,
        first,
        &[order(1, "2026-11-20"), order(2, "2026-11-20")],
    )
    .await;
    let nats = stack.nats_url();
    eventually(
        Duration::from_secs(30),
        "the first window merged",
        || async { (!vouchers_in_stream(&nats).await.is_empty()).then_some(()) },
    )
    .await;
    close_window(
        &js,
        overlapping,
        &[order(2, "2026-11-20"), order(3, "2026-11-21")],
    )
    .await;
    let vouchers = eventually(
        Duration::from_secs(30),
        "the second window merged",
        || async {
            let v = vouchers_in_stream(&nats).await;
            (v.len() >= 2).then_some(v)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let vouchers = {
        let settled = vouchers_in_stream(&nats).await;
        assert_eq!(settled.len(), vouchers.len());
        settled
    };
    let mut holders: HashMap<i64, usize> = HashMap::new();
    for v in &vouchers {
        for id in &v.io_ids {
            *holders.entry(*id).or_default() += 1;
        }
    }
    assert_eq!(
        holders,
        HashMap::from([(1, 1), (2, 1), (3, 1)]),
        "{vouchers:?}"
    );
}

/// A window the transformer cannot finish (here: the vouchers stream refuses every voucher,
/// its byte limit being far too small) is dead-lettered after `transformer.max_deliver`
/// deliveries instead of being redelivered forever; once the cause is fixed, replaying the
/// dead letter merges the window.
#[tokio::test(flavor = "multi_thread")]
async fn a_window_that_keeps_failing_is_dead_lettered_and_replayed_after_the_fix() {
    let stack = Stack::start().await;
    let end = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    stack
        .admin
        .seed(&DemoSpec {
            orders: 40,
            days: 1,
            seed: 41,
            end_date: Some(end),
        })
        .await
        .expect("seed");
    let cramped = [
        ("J2T__NATS__VOUCHERS_MAX_BYTES", "1024".to_string()),
        ("J2T__TRANSFORMER__MAX_DELIVER", "2".to_string()),
    ];
    let _fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", format!("{end} 00:00:00")),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
            cramped[0].clone(),
        ],
    );
    let mut transformer = stack.spawn("jst2tplus-transformer", &cramped);
    let listed = eventually(
        Duration::from_secs(90),
        "the failing window in the dead letters",
        || async {
            let (ok, text) = cli(&stack, &[], &["dlq", "list", "--reason", "window_failed"]);
            (ok && text.contains("window_failed")).then_some(text)
        },
    )
    .await;
    assert!(listed.contains("transformer"), "{listed}");
    assert!(vouchers_in_stream(&stack.nats_url()).await.is_empty());

    // The fix: the services' configuration gets a sane byte limit (a service start applies
    // it to the stream), then the operator replays the dead letter.
    transformer.kill();
    let _transformer = stack.spawn("jst2tplus-transformer", &[]);
    let (ok, replayed) = cli(&stack, &[], &["dlq", "replay", "--reason", "window_failed"]);
    assert!(
        ok && replayed.contains("1 replayed, 0 failed"),
        "{replayed}"
    );
    let source = stack.admin.orders().await.expect("orders");
    let confirmed: Vec<i64> = source
        .iter()
        .filter(|o| o["status"] == "Confirmed")
        .filter_map(|o| o["io_id"].as_i64())
        .collect();
    let merged = eventually(
        Duration::from_secs(60),
        "the replayed window's vouchers",
        || async {
            let vouchers = vouchers_in_stream(&stack.nats_url()).await;
            let mut ids: Vec<i64> = vouchers.iter().flat_map(|v| v.io_ids.clone()).collect();
            ids.sort_unstable();
            (ids.len() == confirmed.len()).then_some(ids)
        },
    )
    .await;
    let mut expected = confirmed;
    expected.sort_unstable();
    assert_eq!(
        merged, expected,
        "every Confirmed order merged exactly once"
    );
}
