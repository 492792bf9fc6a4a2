//! Fetch throughput under JST's real rate limits, as a fraction of the ceiling
//! (100 requests/min × page_size orders/min), for every paging strategy, drift off and on.
//!
//! `cargo bench -p j2t-e2e --bench fetch_throughput` (after `cargo build --release --bins`
//! or `cargo build --bins`; the fetcher's speed is set by the rate limit, not the build).
//! Optional: `J2T_BENCH_ORDERS` (default 3000), spread over 3 days; `J2T_BENCH_PAGING`
//! (default `keyset,snapshot,start_ts`); `J2T_BENCH_DRIFT` (default `0,0.05`: drift
//! probability per request). Requests are every JST request of the sync (token requests and
//! the polls after the last order included). `requests/min` against the configured 100
//! shows what the rate schedule's margin costs.

use std::time::{Duration, Instant};

use j2t_e2e::harness::{Stack, published_io_ids};
use j2t_simulator::DemoSpec;

const PAGE_SIZE: u32 = 50;
const PER_MINUTE: f64 = 100.0;

struct Run {
    paging: String,
    drift: f64,
    orders: usize,
    elapsed: Duration,
    requests: u64,
}

async fn run(paging: String, drift: f64, orders: u32) -> Run {
    let stack = Stack::start().await;
    let days = 3;
    stack
        .admin
        .seed(&DemoSpec {
            orders,
            days,
            seed: 1,
            end_date: None,
        })
        .await
        .expect("seed");
    stack
        .admin
        .set_jst_faults(&j2t_simulator::JstFaults {
            drift_probability: drift,
            seed: 9,
            ..Default::default()
        })
        .await
        .expect("faults");
    let confirmed = stack
        .admin
        .orders()
        .await
        .expect("orders")
        .iter()
        .filter(|o| o["status"] == "Confirmed")
        .count();
    let first = j2t_simulator::jst_today(480) - chrono_days(days);
    let started = Instant::now();
    let _fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", format!("{first} 00:00:00")),
            ("J2T__FETCHER__PAGE_SIZE", PAGE_SIZE.to_string()),
            ("J2T__FETCHER__PAGING", paging.to_string()),
            ("J2T__FETCHER__LAG_SECS", "1".into()),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
        ],
    );
    let nats = stack.nats_url();
    while published_io_ids(&nats).await.len() < confirmed {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "fetch stalled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    let stats = stack.admin.stats().await.expect("stats");
    let violations: u64 = stats.jst_rate_violations.values().sum();
    assert_eq!(violations, 0, "rate-limit violations");
    Run {
        paging,
        drift,
        orders: confirmed,
        elapsed,
        requests: stats.jst_requests,
    }
}

fn chrono_days(days: u32) -> chrono::Duration {
    chrono::Duration::days(i64::from(days))
}

#[tokio::main]
async fn main() {
    let orders = std::env::var("J2T_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let ceiling = PER_MINUTE * f64::from(PAGE_SIZE);
    println!("fetch throughput, page_size {PAGE_SIZE}, ceiling {ceiling} orders/min");
    let list = |key: &str, default: &str| -> Vec<String> {
        std::env::var(key)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|s| s.trim().to_string())
            .collect()
    };
    println!(
        "paging    drift  orders  seconds  requests  requests/min  orders/request  \
         orders/min  of ceiling"
    );
    for paging in list("J2T_BENCH_PAGING", "keyset,snapshot,start_ts") {
        for drift in list("J2T_BENCH_DRIFT", "0,0.05") {
            let drift: f64 = drift.parse().expect("J2T_BENCH_DRIFT: numbers");
            let r = run(paging.clone(), drift, orders).await;
            let minutes = r.elapsed.as_secs_f64() / 60.0;
            let per_minute = r.orders as f64 / minutes;
            println!(
                "{:<9} {:>5}  {:>6}  {:>7.1}  {:>8}  {:>12.1}  {:>14.1}  {:>10.0}  {:>10.2}",
                r.paging,
                r.drift,
                r.orders,
                r.elapsed.as_secs_f64(),
                r.requests,
                r.requests as f64 / minutes,
                r.orders as f64 / r.requests.max(1) as f64,
                per_minute,
                per_minute / ceiling
            );
        }
    }
}
