//! Reconcile at scale: `jst2tplus reconcile` over 30 days × 10,000 orders a day, T+ holding
//! every voucher the mapping makes of them (posted straight to the simulator's T+: this
//! measures reconcile, not the pipeline). Reports the wall time as a ratio of the JST
//! rate-limit floor: the pages the Confirmed orders need at 50 a page, divided by the
//! requests allowed per minute.
//!
//! `cargo bench -p j2t-e2e --bench reconcile` (outside CI). JST's limits are raised in the
//! simulator and in reconcile's config alike, so the run stays short; the floor is computed
//! against the raised limit: `J2T_RECON_PER_MINUTE` (default 3000), `J2T_RECON_PER_SECOND`
//! (default 50). Also `J2T_RECON_DAYS` (default 30), `J2T_RECON_PER_DAY` (default 10000).

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Instant;

use chrono::Duration as Days;
use j2t_e2e::harness::{Stack, env_or};
use j2t_simulator::{DemoSpec, JstFaults, demo_orders};
use j2t_testkit::workspace_bin;
use serde_json::Value;

const PAGE_SIZE: u64 = 50;

#[tokio::main]
async fn main() {
    let days = env_or("J2T_RECON_DAYS", 30);
    let per_day = env_or("J2T_RECON_PER_DAY", 10_000);
    let per_minute = env_or("J2T_RECON_PER_MINUTE", 3_000);
    let per_second = env_or("J2T_RECON_PER_SECOND", 50);
    let stack = Stack::start_with(&[], None).await;
    println!(
        "reconcile bench: {days} days × {per_day} orders, JST {per_second}/s {per_minute}/min"
    );

    let end = j2t_simulator::jst_today(480) - Days::days(2);
    let first = end - Days::days(days as i64 - 1);
    let source = demo_orders(
        &DemoSpec {
            orders: (days * per_day) as u32,
            days: days as u32,
            seed: 1,
            end_date: Some(end),
        },
        480,
    );
    let seeding = Instant::now();
    // Under the admin API's 2 MB body limit.
    for chunk in source.chunks(500) {
        stack.admin.add_orders(chunk).await.expect("seeding");
    }
    let seeded = source.len();
    let confirmed: Vec<Value> = source
        .into_iter()
        .filter(|o| o["status"] == "Confirmed")
        .collect();
    println!(
        "  seeded {seeded} orders ({} Confirmed) in {:.0} s",
        confirmed.len(),
        seeding.elapsed().as_secs_f64()
    );

    // The topology (reconcile only attaches) and T+'s vouchers: what the transformer would
    // make of each day's window.
    let env: HashMap<String, String> = stack.env.iter().cloned().collect();
    let cfg = j2t_config::Config::load_with_env(None, Some(env)).expect("config");
    j2t_topology::open(&cfg).await.expect("topology");
    let tplus = j2t_tplus::TplusClient::new(&cfg.tplus).expect("T+ client");
    let mapping = j2t_mapping::Mapping::builtin();
    let mut by_day: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for order in &confirmed {
        let day = order["io_date"].as_str().unwrap_or_default()[..10].to_string();
        by_day.entry(day).or_default().push(order.clone());
    }
    let mut vouchers = 0;
    for (day, orders) in by_day {
        let out = j2t_mapping::map_orders(&mapping, orders, &day);
        for voucher in out.vouchers {
            match tplus.create_other_dispatch(&voucher.payload).await {
                j2t_tplus::Answer::Http { status: 200, .. } => vouchers += 1,
                other => panic!("posting {}: {other:?}", voucher.external_code),
            }
        }
    }
    println!("  T+ holds {vouchers} vouchers");

    stack
        .admin
        .set_jst_faults(&JstFaults {
            per_second: Some(per_second as u32),
            per_minute: Some(per_minute as u32),
            ..Default::default()
        })
        .await
        .expect("JST limits");
    let started = Instant::now();
    let output = Command::new(workspace_bin("jst2tplus").expect("cli"))
        .args([
            "reconcile",
            "--from",
            &first.to_string(),
            "--to",
            &end.to_string(),
        ])
        .args(["--format", "json"])
        .envs(stack.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("J2T__FETCHER__REQUESTS_PER_SECOND", per_second.to_string())
        .env("J2T__FETCHER__REQUESTS_PER_MINUTE", per_minute.to_string())
        .env("J2T__FETCHER__PAGE_SIZE", PAGE_SIZE.to_string())
        .output()
        .expect("reconcile runs");
    let wall = started.elapsed().as_secs_f64();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no report ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(
        output.status.code(),
        Some(0),
        "the books should match: {}",
        serde_json::to_string_pretty(&report["differences"]).unwrap_or_default()
    );
    let stats = stack.admin.stats().await.expect("stats");
    let violations: u64 = stats.jst_rate_violations.values().sum();
    assert_eq!(violations, 0, "rate-limit violations");

    let pages = (confirmed.len() as u64).div_ceil(PAGE_SIZE);
    let floor = pages as f64 / per_minute as f64 * 60.0;
    let jst_requests = report["jst_requests"].as_u64().unwrap_or(0);
    println!();
    println!(
        "| orders (Confirmed) | rows | JST requests | T+ requests | wall time | floor | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {jst_requests} | {} | {wall:.0} s | {floor:.0} s ({pages} pages) | {:.2} |",
        confirmed.len(),
        report["rows"].as_array().map_or(0, Vec::len),
        report["tplus_requests"].as_u64().unwrap_or(0),
        wall / floor
    );
    println!(
        "  requests per floor page: {:.2}; GetVoucherDTO calls per voucher: {:.2}",
        jst_requests as f64 / pages as f64,
        report["tplus_requests"].as_u64().unwrap_or(0) as f64 / vouchers.max(1) as f64
    );
}
