//! Orders JST shows late or in a later shipped state: the re-check of closed windows, the
//! shipped statuses, and `jst2tplus resync`.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use j2t_domain::JST_TIME_FORMAT;
use j2t_e2e::harness::{Stack, admin_port, eventually, metric};
use j2t_simulator::DemoSpec;
use jst2tplus::reconcile::{self, QtyBySku};
use serde_json::{Value, json};

use crate::support::{cli, seed};

const SHIPPED: [&str; 2] = ["Confirmed", "Archive"];

fn shipped() -> Vec<String> {
    SHIPPED.iter().map(|s| s.to_string()).collect()
}

fn now_local() -> NaiveDateTime {
    Utc::now().naive_utc() + chrono::Duration::minutes(480)
}

/// `io_dates.len()` demo orders (real shops, warehouses and SKUs), renumbered from `first_io_id`,
/// shipped at the given times in `status`.
fn orders_at(first_io_id: i64, io_dates: &[NaiveDateTime], status: &str, seed: u64) -> Vec<Value> {
    let mut orders = j2t_simulator::demo_orders(
        &DemoSpec {
            orders: io_dates.len() as u32,
            days: 1,
            seed,
            end_date: io_dates.first().map(|t| t.date()),
        },
        480,
    );
    for (i, (order, io_date)) in orders.iter_mut().zip(io_dates).enumerate() {
        let io_id = first_io_id + i as i64;
        let at = json!(io_date.format(JST_TIME_FORMAT).to_string());
        order["io_id"] = json!(io_id);
        order["so_id"] = json!(format!("LATE{io_id}"));
        order["io_date"] = at.clone();
        order["modified"] = at;
        order["status"] = json!(status);
    }
    orders
}

async fn tplus_matches(stack: &Stack, expected: &QtyBySku) -> Option<Vec<Value>> {
    let dtos = stack.admin.voucher_dtos().await.ok()?;
    let rows = reconcile::by_day(expected, &dtos);
    (!rows.is_empty() && rows.iter().all(|r| r.matches)).then_some(dtos)
}

fn violations(stats: &j2t_simulator::Stats) -> u64 {
    stats.jst_rate_violations.values().sum()
}

/// Issue 13's acceptance: orders that become visible about 10 minutes after their io_date,
/// after the live sync read their window, all reach T+ through the re-check, within the
/// JST limits (the real 5/s and 100/min).
#[tokio::test(flavor = "multi_thread")]
async fn orders_visible_ten_minutes_after_their_io_date_reach_tplus_through_the_recheck() {
    let stack = Stack::start().await;
    let t0 = now_local();
    let minutes = |m: i64| t0 - chrono::Duration::minutes(m);
    // On time: the last one is a sentinel: once it is in T+, the live sync has read past
    // every late order's io_date.
    let on_time = orders_at(
        900_001,
        &[minutes(13), minutes(12), minutes(8)],
        "Confirmed",
        11,
    );
    stack
        .admin
        .add_orders(&on_time)
        .await
        .expect("on-time orders");
    let mut fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            (
                "J2T__FETCHER__START_TIME",
                minutes(30).format(JST_TIME_FORMAT).to_string(),
            ),
            ("J2T__FETCHER__WINDOW_SECS", "300".into()),
            ("J2T__FETCHER__LAG_SECS", "2".into()),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "2".into()),
            ("J2T__FETCHER__RECHECK_DAYS", "2".into()),
            ("J2T__FETCHER__RECHECK_INTERVAL_SECS", "5".into()),
            ("J2T__FETCHER__RECHECK_SHARE_PERCENT", "50".into()),
        ],
    );
    let _transformer = stack.spawn("jst2tplus-transformer", &[]);
    let _writer = stack.spawn("jst2tplus-writer", &[]);

    let expected_on_time = reconcile::expected_shipped(&on_time, &shipped());
    eventually(Duration::from_secs(120), "the on-time orders in T+", || {
        tplus_matches(&stack, &expected_on_time)
    })
    .await;

    // Committed late: shipped 12.5 and 10 minutes before t0, visible only from now on.
    let late = orders_at(
        900_101,
        &[minutes(12) - chrono::Duration::seconds(30), minutes(10)],
        "Confirmed",
        12,
    );
    let held = stack
        .admin
        .add_late_orders(&late, Duration::from_secs(2))
        .await
        .expect("late orders");
    assert_eq!(held, 2);

    let all: Vec<Value> = on_time.iter().chain(&late).cloned().collect();
    let expected = reconcile::expected_shipped(&all, &shipped());
    let dtos = eventually(
        Duration::from_secs(120),
        "the late orders in T+ too (re-check)",
        || tplus_matches(&stack, &expected),
    )
    .await;
    let codes: std::collections::BTreeSet<_> = dtos
        .iter()
        .map(|d| d["ExternalCode"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(codes.len(), dtos.len(), "no ExternalCode twice");

    let port = admin_port(&mut fetcher).await;
    let requests = metric(port, "j2t_fetcher_recheck_requests_total{task=\"default\"}").await;
    assert!(
        requests.is_some_and(|n| n > 0.0),
        "re-check cost visible: {requests:?}"
    );
    let found = metric(port, "j2t_fetcher_recheck_orders_total{task=\"default\"}").await;
    assert_eq!(found, Some(2.0), "both late orders found by the re-check");
    let stats = stack.admin.stats().await.expect("stats");
    assert_eq!(
        violations(&stats),
        0,
        "JST limits kept: {:?}",
        stats.jst_rate_violations
    );
}

/// An order already archived (a later shipped state) when the fetcher first reads it is
/// synced: the default shipped statuses are Confirmed and Archive, each queried.
#[tokio::test(flavor = "multi_thread")]
async fn an_order_already_archived_when_first_read_is_synced() {
    let stack = Stack::start().await;
    let day = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    let archived = orders_at(
        910_001,
        &[day.and_hms_opt(10, 0, 0).expect("time")],
        "Archive",
        21,
    );
    let (_, start_time) = seed(&stack, 40, 1, 7, &archived).await;
    let source = stack.admin.orders().await.expect("orders");
    let expected = reconcile::expected_shipped(&source, &shipped());
    assert_ne!(
        expected,
        reconcile::expected(&source, "Confirmed"),
        "the archived order counts"
    );
    let _fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", start_time),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
        ],
    );
    let _transformer = stack.spawn("jst2tplus-transformer", &[]);
    let _writer = stack.spawn("jst2tplus-writer", &[]);
    eventually(
        Duration::from_secs(120),
        "T+ sums to match the Confirmed and Archive orders",
        || tplus_matches(&stack, &expected),
    )
    .await;
}

/// `jst2tplus resync` of a range holding an order the live sync missed (re-check off) writes
/// it once; a second resync writes nothing. `cursor show|set` name the task and refuse a
/// bad time by its flag.
#[tokio::test(flavor = "multi_thread")]
async fn resync_writes_a_missed_order_once_and_a_second_resync_nothing() {
    let stack = Stack::start().await;
    let (_, start_time) = seed(&stack, 30, 1, 5, &[]).await;
    let day = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    let _fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", start_time),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
            ("J2T__FETCHER__RECHECK_DAYS", "0".into()),
        ],
    );
    let _transformer = stack.spawn("jst2tplus-transformer", &[]);
    let _writer = stack.spawn("jst2tplus-writer", &[]);
    let source = stack.admin.orders().await.expect("orders");
    let expected = reconcile::expected_shipped(&source, &shipped());
    let before = eventually(Duration::from_secs(120), "the day in T+", || {
        tplus_matches(&stack, &expected)
    })
    .await;

    // Entered after its day was read: the live sync has passed it and the re-check is off.
    let missed = orders_at(
        920_001,
        &[day.and_hms_opt(15, 0, 0).expect("time")],
        "Confirmed",
        31,
    );
    stack
        .admin
        .add_orders_visible_at(&missed, Utc::now())
        .await
        .expect("missed order");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stack.admin.voucher_dtos().await.expect("vouchers").len(),
        before.len(),
        "the live sync does not see it"
    );

    let (shown, text) = cli(&stack, &[], &["cursor", "show"]);
    assert!(shown && text.contains("task default"), "{text}");
    let (ok, text) = cli(
        &stack,
        &[],
        &["cursor", "set", "--task", "default", "--next-start", "soon"],
    );
    assert!(!ok && text.contains("--next-start"), "{text}");

    let range = day.to_string();
    let args = ["resync", "--from", range.as_str(), "--to", range.as_str()];
    let (ok, text) = cli(&stack, &[], &args);
    assert!(ok, "resync: {text}");
    assert!(
        text.contains("1 orders not synced before now published"),
        "{text}"
    );
    let all: Vec<Value> = source.iter().chain(&missed).cloned().collect();
    let expected = reconcile::expected_shipped(&all, &shipped());
    let after = eventually(Duration::from_secs(60), "the missed order in T+", || {
        tplus_matches(&stack, &expected)
    })
    .await;
    assert_eq!(after.len(), before.len() + 1, "one more voucher");

    let (ok, text) = cli(&stack, &[], &args);
    assert!(ok, "second resync: {text}");
    assert!(
        text.contains("0 orders not synced before now published"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stack.admin.voucher_dtos().await.expect("vouchers").len(),
        after.len(),
        "nothing written twice"
    );
}
