//! Fetch throughput under JST's real rate limits, through the real stack (simulator enforcing
//! 5/s and 100/min, the fetcher process, nats-server): orders per request and fraction of the
//! ceiling (100 requests/min × page_size 50 = 50 orders per request) for several densities
//! (shipped orders a day), every paging mode, drift off and on. One table, README-ready.
//!
//! `cargo bench --profile dev -p j2t-e2e --bench fetch_throughput` (the speed is set by the
//! rate limit, not the build; the binaries are built for the profile first).
//! Optional, comma-separated: `J2T_BENCH_DENSITIES` (default `50,800,5000,20000` Confirmed
//! orders a day), `J2T_BENCH_PAGING` (default `keyset,snapshot,start_ts`), `J2T_BENCH_DRIFT`
//! (default `0,0.05`: probability per request that the simulator modifies an order of the
//! queried range or inserts one dated now); `J2T_BENCH_DAYS` (default 28 days below 200 a
//! day, 14 below 5,000, 1 from 5,000: see `default_days`).
//!
//! Orders end yesterday (JST), spread evenly over each day by the demo data (no busy hours).
//! A row ends when the fetcher is caught up (its cursor past today's first window): every day
//! read for each shipped status, then today's window once (empty but for drift inserts, which
//! are not counted as orders); `poll_interval_secs` stays at its default (30 s) so the live
//! window is not polled again while the row is read. Time is taken at that moment; requests
//! a few seconds later, once no re-check or change-scan page is in flight (see `settled`):
//! live requests = every JST request the simulator answered (token, `Archive` queries, probes,
//! retries and that one read of today included) − the fetcher's re-check requests
//! (`j2t_fetcher_recheck_requests_total`) − its change-scan requests
//! (`j2t_fetcher_change_scan_pages_total`), both read from its `/metrics` and reported apart.
//! Rate-limit violations come from the simulator and must be 0; every seeded Confirmed order
//! must be in `J2T_ORDERS`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use j2t_domain::JST_TIME_FORMAT;
use j2t_e2e::harness::{Stack, admin_port, metric, published_io_ids};
use j2t_simulator::{DemoSpec, JstFaults};
use j2t_topology::names::CURSORS_BUCKET;

const PAGE_SIZE: u32 = 50;
/// The ceiling in orders per request: one full page per request.
const CEILING: f64 = PAGE_SIZE as f64;
/// Share of demo orders that become Confirmed (`demo_data.rs` STATUSES: 80 of 100).
const CONFIRMED_SHARE: f64 = 0.8;
const RECHECK: &str = "j2t_fetcher_recheck_requests_total{task=\"default\"}";
const CHANGE_SCAN: &str = "j2t_fetcher_change_scan_pages_total{task=\"default\"}";

struct Case {
    density: u32,
    days: u32,
    paging: String,
    drift: f64,
}

struct Row {
    case: Case,
    /// Seeded orders that are Confirmed (all of them fetched when the row ends).
    shipped: usize,
    elapsed: Duration,
    live: u64,
    recheck: u64,
    change_scan: u64,
    tokens: u64,
    violations: u64,
}

/// Days to spread a density over when `J2T_BENCH_DAYS` is not set: enough for a quiet task's
/// windows to grow to their steady length (a week at 50 a day, 6 days at 800), so the row
/// shows a backfill's cost per order rather than the first day's and today's fixed costs.
fn default_days(density: u32) -> u32 {
    match density {
        0..200 => 28,
        200..5_000 => 14,
        _ => 1,
    }
}

/// Demo orders to seed so that about `density` a day become Confirmed.
fn orders_to_seed(density: u32, days: u32) -> u32 {
    (f64::from(density) * f64::from(days) / CONFIRMED_SHARE).round() as u32
}

/// Requests of the live sync: the simulator's count without what is reported apart.
fn live_requests(jst_requests: u64, recheck: u64, change_scan: u64) -> u64 {
    jst_requests.saturating_sub(recheck + change_scan)
}

impl Row {
    fn per_request(&self) -> f64 {
        self.shipped as f64 / self.live.max(1) as f64
    }

    fn minutes(&self) -> f64 {
        self.elapsed.as_secs_f64() / 60.0
    }

    fn markdown(&self) -> String {
        let c = &self.case;
        format!(
            "| {} | {} | {:.0} | `{}` | {} | {} | {:.1} | {:.2} | {:.1} | {:.0} | {:.1} | {} | {} | {} |",
            c.density,
            c.days,
            self.shipped as f64 / f64::from(c.days),
            c.paging,
            c.drift,
            self.live,
            self.per_request(),
            self.per_request() / CEILING,
            self.live as f64 / self.minutes(),
            self.shipped as f64 / self.minutes(),
            self.elapsed.as_secs_f64(),
            self.recheck,
            self.change_scan,
            self.violations,
        )
    }
}

const HEADER: &str = "| orders/day | days | Confirmed/day | paging | drift | live requests | \
                      orders/request | of ceiling | requests/min | orders/min | seconds | \
                      re-check | change scan | violations |\n\
                      |---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

async fn run(case: Case) -> Row {
    let stack = Stack::start().await;
    // Orders end yesterday (JST): the live window of today holds only drift inserts.
    let end = j2t_simulator::jst_today(480) - chrono::Duration::days(1);
    let first: NaiveDate = end - chrono::Duration::days(i64::from(case.days) - 1);
    stack
        .admin
        .seed(&DemoSpec {
            orders: orders_to_seed(case.density, case.days),
            days: case.days,
            seed: 1,
            end_date: Some(end),
        })
        .await
        .expect("seed");
    stack
        .admin
        .set_jst_faults(&JstFaults {
            drift_probability: case.drift,
            seed: 9,
            ..Default::default()
        })
        .await
        .expect("faults");
    let shipped: Vec<i64> = stack
        .admin
        .orders()
        .await
        .expect("orders")
        .iter()
        .filter(|o| o["status"] == "Confirmed")
        .filter_map(|o| o["io_id"].as_i64())
        .collect();
    let started = Instant::now();
    let mut fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", format!("{first} 00:00:00")),
            ("J2T__FETCHER__PAGE_SIZE", PAGE_SIZE.to_string()),
            ("J2T__FETCHER__PAGING", case.paging.clone()),
            ("J2T__FETCHER__LAG_SECS", "1".into()),
        ],
    );
    let port = admin_port(&mut fetcher).await;
    let js = async_nats::jetstream::new(
        async_nats::connect(stack.nats_url())
            .await
            .expect("connect to nats"),
    );
    let today = (end + chrono::Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists");
    let limit = Duration::from_secs(120 + shipped.len() as u64 / 10);
    // Caught up: every day up to yesterday read (each status) and today's window read once.
    while cursor(&js).await.is_none_or(|next| next <= today) {
        assert!(
            started.elapsed() < limit,
            "fetch stalled: {} drift {}, {}/day",
            case.paging,
            case.drift,
            case.density
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let (stats, (recheck, change_scan)) = settled(&stack, port).await;
    let published = published_io_ids(&stack.nats_url()).await;
    let missed = shipped
        .iter()
        .filter(|id| !published.contains_key(id))
        .count();
    assert_eq!(
        missed, 0,
        "caught up without publishing {missed} Confirmed orders"
    );
    Row {
        shipped: shipped.len(),
        elapsed,
        live: live_requests(stats.jst_requests, recheck, change_scan),
        recheck,
        change_scan,
        tokens: stats.jst_token_refreshes,
        violations: stats.jst_rate_violations.values().sum(),
        case,
    }
}

/// The simulator's stats and the requests reported apart (re-check, change scan), read when
/// no request of those is on its way: the fetcher counts a re-check or scan page before it
/// waits for a slot of the app's limits (≤ ~1.3 s with both running), and their shared budget
/// (`recheck_share_percent`, 20 % of 100/min) spaces them ≥ 3 s apart. So when neither counter
/// moved for 2 s around the stats read, each counted page has reached the simulator and none is
/// in flight. The live sync sleeps `poll_interval_secs` (30 s) once caught up, so it sends
/// nothing meanwhile.
async fn settled(stack: &Stack, port: u16) -> (j2t_simulator::Stats, (u64, u64)) {
    for _ in 0..10 {
        let before = apart(port).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stats = stack.admin.stats().await.expect("stats");
        let after = apart(port).await;
        if before == after {
            return (stats, after);
        }
    }
    panic!("re-check and change-scan counters never stood still for 2 s");
}

/// The fetcher's re-check and change-scan requests so far (absent = none yet).
async fn apart(port: u16) -> (u64, u64) {
    let count = |v: Option<f64>| v.unwrap_or(0.0) as u64;
    (
        count(metric(port, RECHECK).await),
        count(metric(port, CHANGE_SCAN).await),
    )
}

/// The default task's cursor: everything before it is fetched and published.
async fn cursor(js: &async_nats::jetstream::Context) -> Option<NaiveDateTime> {
    let kv = js.get_key_value(CURSORS_BUCKET).await.ok()?;
    let entry = kv.get("default").await.ok()??;
    let state: serde_json::Value = serde_json::from_slice(&entry).ok()?;
    NaiveDateTime::parse_from_str(state["next_start"].as_str()?, JST_TIME_FORMAT).ok()
}

fn list(key: &str, default: &str) -> Vec<String> {
    std::env::var(key)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[tokio::main]
async fn main() {
    let days: Option<u32> = std::env::var("J2T_BENCH_DAYS")
        .ok()
        .map(|v| v.parse().expect("J2T_BENCH_DAYS: a number of days"));
    let mut cases = Vec::new();
    for density in list("J2T_BENCH_DENSITIES", "50,800,5000,20000") {
        let density: u32 = density.parse().expect("J2T_BENCH_DENSITIES: numbers");
        for paging in list("J2T_BENCH_PAGING", "keyset,snapshot,start_ts") {
            for drift in list("J2T_BENCH_DRIFT", "0,0.05") {
                cases.push(Case {
                    density,
                    days: days.unwrap_or_else(|| default_days(density)).max(1),
                    paging: paging.clone(),
                    drift: drift.parse().expect("J2T_BENCH_DRIFT: numbers"),
                });
            }
        }
    }
    println!(
        "fetch throughput, page_size {PAGE_SIZE}, ceiling {CEILING} orders/request \
         (100 requests/min × {PAGE_SIZE})"
    );
    println!("{HEADER}");
    let started = Instant::now();
    let mut rows = Vec::new();
    for case in cases {
        let row = run(case).await;
        println!("{}", row.markdown());
        rows.push(row);
    }
    let mut table = String::new();
    for row in &rows {
        let _ = writeln!(table, "{}", row.markdown());
    }
    let total = |f: fn(&Row) -> u64| rows.iter().map(f).sum::<u64>();
    println!("\n{HEADER}\n{table}");
    println!(
        "{} rows in {:.1} min: {} Confirmed orders fetched with {} live requests ({} of them \
         token requests), {} re-check and {} change-scan requests apart, {} rate-limit violations",
        rows.len(),
        started.elapsed().as_secs_f64() / 60.0,
        total(|r| r.shipped as u64),
        total(|r| r.live),
        total(|r| r.tokens),
        total(|r| r.recheck),
        total(|r| r.change_scan),
        total(|r| r.violations),
    );
    assert_eq!(total(|r| r.violations), 0, "rate-limit violations");
}
