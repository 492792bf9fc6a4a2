//! The re-check's extra JST requests per day for a shop with 5,000 shipped orders a day, as a
//! fraction of the app's daily limit (100/min × 1,440 = 144,000).
//!
//! Two days of demo orders (6,250 a day, ~80 % Confirmed) are fetched by the live sync (re-check
//! off); the fetcher is stopped and `jst2tplus resync` reads both days again through the
//! re-check path, with the simulator counting its requests. One pass of the re-check reads
//! `recheck_days` days like that; the default schedule runs a pass an hour. Rate limits are
//! raised (request counts do not depend on them) so it takes about a minute.
//!
//! `cargo bench -p j2t-e2e --bench recheck_cost` (after `cargo build --bins`).
//! Optional: `J2T_BENCH_ORDERS_PER_DAY` (default 6250).

use std::process::Command;
use std::time::{Duration, Instant};

use j2t_e2e::harness::{Stack, published_io_ids};
use j2t_simulator::{DemoSpec, JstFaults};
use j2t_testkit::workspace_bin;

const DAYS: u32 = 2;
const DAILY_LIMIT: f64 = 100.0 * 1440.0;
/// The defaults: `recheck_days` and passes a day (`recheck_interval_secs` = 3600).
const RECHECK_DAYS: f64 = 2.0;
const PASSES_PER_DAY: f64 = 24.0;

#[tokio::main]
async fn main() {
    let per_day: u32 = std::env::var("J2T_BENCH_ORDERS_PER_DAY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6250);
    let stack = Stack::start().await;
    let end = j2t_simulator::jst_today(480) - chrono::Duration::days(1);
    let first = end - chrono::Duration::days(i64::from(DAYS) - 1);
    stack
        .admin
        .seed(&DemoSpec {
            orders: per_day * DAYS,
            days: DAYS,
            seed: 13,
            end_date: Some(end),
        })
        .await
        .expect("seed");
    stack
        .admin
        .set_jst_faults(&JstFaults {
            per_second: Some(50),
            per_minute: Some(3000),
            ..Default::default()
        })
        .await
        .expect("limits");
    let orders = stack.admin.orders().await.expect("orders");
    let shipped = orders
        .iter()
        .filter(|o| o["status"] == "Confirmed" || o["status"] == "Archive")
        .count();
    let limits = [
        ("J2T__FETCHER__REQUESTS_PER_SECOND", "50".to_string()),
        ("J2T__FETCHER__REQUESTS_PER_MINUTE", "3000".to_string()),
    ];
    let mut env = limits.to_vec();
    env.extend([
        ("J2T__FETCHER__START_TIME", format!("{first} 00:00:00")),
        ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".to_string()),
        ("J2T__FETCHER__RECHECK_DAYS", "0".to_string()),
    ]);
    let started = Instant::now();
    let fetcher = stack.spawn("jst2tplus-fetcher", &env);
    let nats = stack.nats_url();
    while published_io_ids(&nats).await.len() < shipped {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "fetch stalled"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let live_requests = stack.admin.stats().await.expect("stats").jst_requests;
    drop(fetcher);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let before = stack.admin.stats().await.expect("stats").jst_requests;
    let output = Command::new(workspace_bin("jst2tplus").expect("cli"))
        .args([
            "resync",
            "--from",
            &first.to_string(),
            "--to",
            &end.to_string(),
        ])
        .envs(stack.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(limits.iter().map(|(k, v)| (*k, v.as_str())))
        .env("J2T__FETCHER__RECHECK_SHARE_PERCENT", "100")
        .output()
        .expect("resync runs");
    assert!(
        output.status.success(),
        "resync: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stats = stack.admin.stats().await.expect("stats");
    let requests = stats.jst_requests - before;
    let per_day_read = requests as f64 / f64::from(DAYS);
    let per_day = per_day_read * RECHECK_DAYS * PASSES_PER_DAY;
    println!(
        "{shipped} shipped of {} orders over {DAYS} days; live sync {live_requests} requests",
        orders.len()
    );
    println!("{}", String::from_utf8_lossy(&output.stdout).trim());
    println!(
        "re-check: {requests} requests for {DAYS} days = {per_day_read:.0} per day read; \
         {RECHECK_DAYS} days × {PASSES_PER_DAY} passes a day = {per_day:.0} requests a day = \
         {:.2} % of the daily limit ({DAILY_LIMIT})",
        per_day / DAILY_LIMIT * 100.0
    );
    let violations: u64 = stats.jst_rate_violations.values().sum();
    assert_eq!(violations, 0, "rate-limit violations");
}
