//! Fetch throughput under JST's real rate limits, as a fraction of the ceiling
//! (100 requests/min × page_size orders/min), for both paging strategies.
//!
//! `cargo bench -p j2t-e2e --bench fetch_throughput` (after `cargo build --release --bins`
//! or `cargo build --bins`; the fetcher's speed is set by the rate limit, not the build).
//! Optional: `J2T_BENCH_ORDERS` (default 3000), spread over 3 days.

use std::time::{Duration, Instant};

use j2t_e2e::harness::{Stack, published_io_ids};
use j2t_simulator::DemoSpec;

const PAGE_SIZE: u32 = 50;
const PER_MINUTE: f64 = 100.0;

struct Run {
    paging: &'static str,
    orders: usize,
    elapsed: Duration,
    requests: u64,
}

async fn run(paging: &'static str, orders: u32) -> Run {
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
    println!("paging    orders  seconds  requests  orders/request  orders/min  of ceiling");
    for paging in ["snapshot", "start_ts"] {
        let r = run(paging, orders).await;
        let per_minute = r.orders as f64 / r.elapsed.as_secs_f64() * 60.0;
        println!(
            "{:<9} {:>6}  {:>7.1}  {:>8}  {:>14.1}  {:>10.0}  {:>10.2}",
            r.paging,
            r.orders,
            r.elapsed.as_secs_f64(),
            r.requests,
            r.orders as f64 / r.requests.max(1) as f64,
            per_minute,
            per_minute / ceiling
        );
    }
}
