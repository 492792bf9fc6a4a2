//! Writer throughput with 50 ms of T+ latency at 1, 2 and 4 replicas, as a ratio to linear
//! scaling of the single-replica figure measured in the same run.
//!
//! `cargo build --bins && cargo bench -p j2t-e2e --bench writer_scaling`
//! Optional: `J2T_BENCH_VOUCHERS` (default 600), `J2T_BENCH_CONCURRENCY` (per replica,
//! default 2: low enough that T+ latency, not this machine's CPU, is the limit).

use std::time::{Duration, Instant};

use j2t_e2e::harness::Stack;
use j2t_simulator::TplusFaults;
use j2t_topology::names;
use serde_json::json;

const LATENCY_MS: u64 = 50;

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A valid voucher for the simulator's demo master data.
fn voucher(i: usize) -> serde_json::Value {
    let code = format!("BENCH-{i:06}");
    json!({
        "external_code": code,
        "group": ["2026-11-25", "1"],
        "part": 1,
        "parts": 1,
        "io_ids": [i],
        "window": "bench",
        "payload": {"dto": {
            "ExternalCode": code,
            "VoucherType": {"Code": "ST1024"},
            "BusiType": {"Code": "13"},
            "VoucherDate": "2026-11-25",
            "Warehouse": {"Code": "1"},
            "Memo": "bench",
            "RDRecordDetails": [{"Inventory": {"Code": "SKU-TEA-001"}, "BaseQuantity": 1}]
        }}
    })
}

/// Seconds for `replicas` writers to post `vouchers` vouchers published beforehand.
async fn run(replicas: usize, vouchers: usize, concurrency: usize) -> f64 {
    let stack = Stack::start().await;
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            latency_ms: LATENCY_MS,
            ..Default::default()
        })
        .await
        .expect("faults");
    let cfg = j2t_config::Config::load_with_env(None, Some(stack.env.iter().cloned().collect()))
        .expect("config");
    let topology = j2t_topology::open(&cfg).await.expect("nats");
    for i in 0..vouchers {
        let v = voucher(i);
        let code = v["external_code"].as_str().unwrap_or_default().to_string();
        j2t_topology::publish_json(&topology.js, names::VOUCHERS_SUBJECT, &code, &v)
            .await
            .expect("publish");
    }
    let env = [("J2T__WRITER__CONCURRENCY", concurrency.to_string())];
    let started = Instant::now();
    let _writers: Vec<_> = (0..replicas)
        .map(|_| stack.spawn("jst2tplus-writer", &env))
        .collect();
    loop {
        let stored = stack.admin.stats().await.map_or(0, |s| s.vouchers);
        if stored >= vouchers {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "writers stalled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let vouchers = env_or("J2T_BENCH_VOUCHERS", 600);
    let concurrency = env_or("J2T_BENCH_CONCURRENCY", 2);
    println!(
        "writer scaling: {vouchers} vouchers, T+ latency {LATENCY_MS} ms, {concurrency} in flight per replica"
    );
    println!("replicas  seconds  vouchers/s  ratio to linear");
    let mut single = None;
    for replicas in [1, 2, 4] {
        let secs = run(replicas, vouchers, concurrency).await;
        let rate = vouchers as f64 / secs;
        let base = *single.get_or_insert(rate);
        println!(
            "{replicas:>8}  {secs:>7.1}  {rate:>10.1}  {:>15.2}",
            rate / (base * replicas as f64)
        );
    }
}
