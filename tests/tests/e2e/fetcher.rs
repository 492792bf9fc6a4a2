//! The fetcher misses no order and publishes none twice — under throttling, gateway errors,
//! data changing during paging, and a 30-day backfill — while never breaking JST's rate
//! limits. Each test runs the real fetcher process against the simulator and a real
//! nats-server, then compares the raw-orders stream with what the simulator holds.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{Duration as Days, NaiveDateTime};
use j2t_simulator::{DemoSpec, JstFaults, Stats};
use j2t_topology::names;
use serde_json::Value;

use j2t_testkit::Service;

use j2t_e2e::harness::{
    Stack, admin_port, closed_windows, eventually, metric, published_io_ids, stream_messages,
};

pub const UTC_OFFSET: i32 = 480;

pub struct Scenario {
    pub orders: u32,
    pub days: u32,
    pub faults: JstFaults,
    /// 0 = windows on `modified`, 2 = on `io_date`.
    pub date_type: u8,
    pub page_size: u32,
    pub env: Vec<(&'static str, String)>,
}

impl Scenario {
    pub fn new(orders: u32, days: u32) -> Self {
        Self {
            orders,
            days,
            faults: JstFaults::default(),
            date_type: 2,
            page_size: 10,
            env: Vec::new(),
        }
    }

    /// The first backfilled day (JST local), `days` days ending yesterday.
    pub fn first_day(&self) -> chrono::NaiveDate {
        j2t_simulator::jst_today(UTC_OFFSET) - Days::days(i64::from(self.days))
    }

    /// Seeds the simulator, sets its faults; returns the fetcher's environment.
    pub async fn prepare(&self, stack: &Stack) -> Vec<(&'static str, String)> {
        stack
            .admin
            .seed(&DemoSpec {
                orders: self.orders,
                days: self.days,
                seed: u64::from(self.orders),
                end_date: None,
            })
            .await
            .expect("seeding");
        stack
            .admin
            .set_jst_faults(&self.faults)
            .await
            .expect("faults");
        let mut env = vec![
            (
                "J2T__FETCHER__START_TIME",
                format!("{} 00:00:00", self.first_day()),
            ),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
            ("J2T__FETCHER__LAG_SECS", "1".into()),
            ("J2T__FETCHER__DATE_TYPE", self.date_type.to_string()),
            // Small pages: many requests per window, so faults hit often.
            ("J2T__FETCHER__PAGE_SIZE", self.page_size.to_string()),
        ];
        env.extend(self.env.iter().cloned());
        env
    }

    /// Confirmed orders the fetcher must have published by now: in the synced range on the
    /// task's date field, committed at least a few seconds ago.
    pub fn expected(&self, orders: &[Value]) -> BTreeSet<i64> {
        let field = if self.date_type == 0 {
            "modified"
        } else {
            "io_date"
        };
        let start = self.first_day().and_hms_opt(0, 0, 0).expect("midnight");
        let settled =
            chrono::Utc::now().naive_utc() + Days::minutes(UTC_OFFSET.into()) - Days::seconds(5);
        orders
            .iter()
            .filter(|o| o["status"] == "Confirmed")
            .filter(|o| {
                o[field]
                    .as_str()
                    .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok())
                    .is_some_and(|t| start <= t && t <= settled)
            })
            .filter_map(|o| o["io_id"].as_i64())
            .collect()
    }
}

/// Waits until every expected order is in the stream, lets the fetcher run on a little,
/// then checks: each published io_id exactly once, all of them Confirmed, zero rate-limit
/// violations. Returns the simulator's statistics for scenario-specific checks.
pub async fn assert_all_published_once(stack: &Stack, scenario: &Scenario) -> Stats {
    let nats = stack.nats_url();
    let admin = &stack.admin;
    eventually(
        Duration::from_secs(240),
        "every Confirmed order published",
        || async {
            let orders = admin.orders().await.ok()?;
            let published = published_io_ids(&nats).await;
            let missing: Vec<_> = scenario
                .expected(&orders)
                .into_iter()
                .filter(|id| !published.contains_key(id))
                .collect();
            missing.is_empty().then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let orders = admin.orders().await.expect("orders");
    let confirmed: HashMap<i64, &Value> = orders
        .iter()
        .filter(|o| o["status"] == "Confirmed")
        .filter_map(|o| Some((o["io_id"].as_i64()?, o)))
        .collect();
    let published = published_io_ids(&nats).await;
    let twice: Vec<_> = published.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "published more than once: {twice:?}");
    let unexpected: Vec<_> = published
        .keys()
        .filter(|id| !confirmed.contains_key(id))
        .collect();
    assert!(
        unexpected.is_empty(),
        "published but not Confirmed: {unexpected:?}"
    );
    let missing: Vec<_> = scenario
        .expected(&orders)
        .into_iter()
        .filter(|id| !published.contains_key(id))
        .collect();
    assert!(missing.is_empty(), "never published: {missing:?}");

    let stats = admin.stats().await.expect("stats");
    let violations: u64 = stats.jst_rate_violations.values().sum();
    assert_eq!(violations, 0, "rate-limit violations: {stats:?}");
    stats
}

/// A fresh stack, one fetcher (still running when this returns), and
/// [`assert_all_published_once`].
async fn fetch_all(scenario: &Scenario) -> (Stack, Service, Stats) {
    let stack = Stack::start().await;
    let env = scenario.prepare(&stack).await;
    let fetcher = stack.spawn("jst2tplus-fetcher", &env);
    let stats = assert_all_published_once(&stack, scenario).await;
    (stack, fetcher, stats)
}

fn answered(stats: &Stats, code: &str) -> u64 {
    stats.jst_requests_by_code.get(code).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifth_of_requests_throttled_misses_nothing() {
    let mut scenario = Scenario::new(200, 3);
    scenario.faults.throttle_probability = 0.2;
    scenario.faults.seed = 7;
    let (_stack, _fetcher, stats) = fetch_all(&scenario).await;
    assert!(
        answered(&stats, "199") > 0,
        "throttling was injected: {stats:?}"
    );
}

/// Also: windows overlap by an hour (orders fetched twice, published once), and the
/// fetcher's /metrics agree with what happened.
#[tokio::test(flavor = "multi_thread")]
async fn a_tenth_of_requests_failing_with_502_misses_nothing() {
    let mut scenario = Scenario::new(200, 3);
    scenario.faults.http_5xx_probability = 0.1;
    scenario.faults.seed = 11;
    scenario
        .env
        .push(("J2T__FETCHER__OVERLAP_SECS", "3600".into()));
    let (stack, mut fetcher, stats) = fetch_all(&scenario).await;
    let port = admin_port(&mut fetcher).await;
    let failed = answered(&stats, "http502");
    assert!(failed > 0, "502s were injected: {stats:?}");

    let published = published_io_ids(&stack.nats_url()).await.len() as f64;
    let series = |name: &str, labels: &str| format!("{name}{{task=\"default\"{labels}}}");
    assert_eq!(
        metric(port, &series("j2t_fetcher_orders_published_total", "")).await,
        Some(published)
    );
    let skipped = metric(
        port,
        &series(
            "j2t_fetcher_orders_skipped_total",
            ",reason=\"already_synced\"",
        ),
    )
    .await;
    assert!(
        skipped.is_some_and(|n| n > 0.0),
        "the overlap re-fetched orders: {skipped:?}"
    );
    let bad_gateway = metric(
        port,
        "j2t_jst_requests_total{endpoint=\"/open/orders/out/simple/query\",code=\"http_502\"}",
    )
    .await;
    assert_eq!(bad_gateway, Some(failed as f64));
    let retries = metric(
        port,
        &series("j2t_fetcher_retries_total", ",reason=\"transient\""),
    )
    .await;
    assert!(retries.is_some_and(|n| n >= failed as f64), "{retries:?}");
}

/// Orders are inserted and modified between requests. Windows on `modified`: a modified
/// order leaves its window for a later one, where it must not be published again.
#[tokio::test(flavor = "multi_thread")]
async fn orders_changing_during_snapshot_paging_are_neither_missed_nor_doubled() {
    let mut scenario = Scenario::new(300, 3);
    scenario.date_type = 0;
    scenario.faults.drift_probability = 0.4;
    scenario.faults.seed = 3;
    scenario
        .env
        .push(("J2T__FETCHER__PAGING", "snapshot".into()));
    let (_stack, _fetcher, stats) = fetch_all(&scenario).await;
    assert!(stats.drift_events.len() >= 3, "drift happened: {stats:?}");
}

/// The same with the default keyset paging (a counted start_ts cursor) and windows on
/// `modified`, where a modified order leaves its window: the count check then re-reads the
/// range as snapshots.
#[tokio::test(flavor = "multi_thread")]
async fn orders_changing_during_keyset_paging_are_neither_missed_nor_doubled() {
    let mut scenario = Scenario::new(300, 3);
    scenario.date_type = 0;
    scenario.faults.drift_probability = 0.4;
    scenario.faults.seed = 4;
    scenario.env.push(("J2T__FETCHER__PAGING", "keyset".into()));
    let (_stack, _fetcher, stats) = fetch_all(&scenario).await;
    assert!(stats.drift_events.len() >= 3, "drift happened: {stats:?}");
}

/// The same with JST's start_ts (rowversion) cursor and windows on `io_date`.
#[tokio::test(flavor = "multi_thread")]
async fn orders_changing_during_start_ts_paging_are_neither_missed_nor_doubled() {
    let mut scenario = Scenario::new(300, 3);
    scenario.faults.drift_probability = 0.4;
    scenario.faults.seed = 5;
    scenario
        .env
        .push(("J2T__FETCHER__PAGING", "start_ts".into()));
    let (_stack, _fetcher, stats) = fetch_all(&scenario).await;
    assert!(stats.drift_events.len() >= 3, "drift happened: {stats:?}");
}

/// 30 days in windows of 7 days: at least five windows, every order once.
#[tokio::test(flavor = "multi_thread")]
async fn a_thirty_day_backfill_in_week_windows() {
    let mut scenario = Scenario::new(400, 30);
    scenario
        .env
        .push(("J2T__FETCHER__WINDOW_SECS", (7 * 86_400).to_string()));
    let (stack, _fetcher, _) = fetch_all(&scenario).await;
    let windows = stream_messages(&stack.nats_url(), names::WINDOWS_STREAM).await;
    assert!(windows >= 5, "only {windows} windows closed");
}

/// A quiet shop's backfill: once a day has shown how few orders there are, windows grow (each
/// at most twice the last) to a week, so 30 days cost a handful of windows (and requests per
/// status), not one a day.
#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_backfill_reads_weeks_not_days() {
    let mut scenario = Scenario::new(300, 30);
    scenario.page_size = 50;
    let (stack, _fetcher, _) = fetch_all(&scenario).await;
    let today = j2t_simulator::jst_today(UTC_OFFSET)
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    let client = async_nats::connect(stack.nats_url()).await.expect("nats");
    let windows = closed_windows(&async_nats::jetstream::new(client)).await;
    let mut backfill: Vec<_> = windows
        .iter()
        .map(|c| c.window)
        .filter(|w| w.start < today)
        .collect();
    backfill.sort_by_key(|w| w.start);
    // The first day alone (no evidence yet), then each window at most twice the last and 7
    // days: 1, 2, 4, 7, 7, 7 and the last 2 days.
    assert!(
        backfill.len() <= 7,
        "30 quiet days read in {} windows: {backfill:?}",
        backfill.len()
    );
    let first_start = scenario.first_day().and_hms_opt(0, 0, 0).expect("midnight");
    assert_eq!(backfill.first().map(|w| w.start), Some(first_start));
    for w in &backfill {
        assert!(
            (w.end - w.start).num_seconds() < 7 * 86_400,
            "a window longer than JST's 7 days: {w:?}"
        );
    }
}
