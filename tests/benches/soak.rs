//! Soak: 100,000 orders over 30 days, one day holding 20,000, through the whole pipeline
//! while things go wrong: 10% of JST calls answer 502, 10% of T+ writes commit and then time
//! out, T+ is down for 5 minutes, nats-server restarts once, and every service is SIGKILLed
//! twice. At the end T+ must hold exactly the Confirmed quantities per (date, SKU), no
//! ExternalCode twice, and no dead letter. Reports each service's peak RSS and the wall time
//! as a ratio of the JST rate-limit floor.
//!
//! `cargo bench -p j2t-e2e --bench soak` (outside CI; about 10–20 minutes here).
//!
//! JST's limits are raised in the simulator (and in the fetcher's config to match) so the run
//! stays under an hour: `J2T_SOAK_PER_MINUTE` (default 3000) and `J2T_SOAK_PER_SECOND`
//! (default 50). The floor is computed against the raised limit: the pages the Confirmed
//! orders need at 50 a page, divided by the per-minute limit. Also: `J2T_SOAK_ORDERS`
//! (default 100000), `J2T_SOAK_BUSY_DAY` (default 20000), `J2T_SOAK_OUTAGE_SECS` (default
//! 300), `J2T_SOAK_LIMIT_SECS` (default 3600).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Duration as Days;
use j2t_e2e::harness::{Stack, env_or, peak_rss_mib, stream_messages};
use j2t_simulator::{DemoSpec, JstFaults, TplusFaults, demo_orders};
use j2t_testkit::Service;
use jst2tplus::reconcile;

const SERVICES: [&str; 3] = [
    "jst2tplus-fetcher",
    "jst2tplus-transformer",
    "jst2tplus-writer",
];

/// The three services, restartable, with the highest peak RSS seen per service.
struct Pipeline {
    env: Vec<(&'static str, String)>,
    running: BTreeMap<&'static str, Service>,
    peak_mib: BTreeMap<&'static str, f64>,
}

impl Pipeline {
    fn start(stack: &Stack, env: Vec<(&'static str, String)>) -> Self {
        let running = SERVICES
            .iter()
            .map(|bin| (*bin, stack.spawn(bin, &env)))
            .collect();
        Pipeline {
            env,
            running,
            peak_mib: BTreeMap::new(),
        }
    }

    fn sample(&mut self) {
        for (bin, service) in &self.running {
            if let Some(mib) = peak_rss_mib(service.id()) {
                let peak = self.peak_mib.entry(bin).or_default();
                *peak = peak.max(mib);
            }
        }
    }

    fn kill_and_restart(&mut self, stack: &Stack, bin: &'static str) {
        self.sample();
        if let Some(service) = self.running.get_mut(bin) {
            service.kill();
        }
        println!("  SIGKILL {bin}, restarted");
        self.running.insert(bin, stack.spawn(bin, &self.env));
    }
}

#[tokio::main]
async fn main() {
    let orders = env_or("J2T_SOAK_ORDERS", 100_000) as u32;
    let busy = env_or("J2T_SOAK_BUSY_DAY", 20_000) as u32;
    let per_minute = env_or("J2T_SOAK_PER_MINUTE", 3_000) as u32;
    let per_second = env_or("J2T_SOAK_PER_SECOND", 50) as u32;
    let outage = Duration::from_secs(env_or("J2T_SOAK_OUTAGE_SECS", 300));
    let limit = Duration::from_secs(env_or("J2T_SOAK_LIMIT_SECS", 3_600));
    let logs = tempfile::tempdir().expect("log dir");
    // Room for 100,000 raw orders and their keys (the test stack's limits are small).
    let room = [
        ("J2T__NATS__ORDERS_MAX_BYTES", (1i64 << 30).to_string()),
        ("J2T__NATS__VOUCHERS_MAX_BYTES", (256i64 << 20).to_string()),
        ("J2T__NATS__BUCKET_MAX_BYTES", (64i64 << 20).to_string()),
    ];
    let mut stack = Stack::start_with(&room, Some(logs.path())).await;
    println!(
        "soak: {orders} orders over 30 days ({busy} on one day), JST {per_second}/s {per_minute}/min; logs in {}",
        logs.path().display()
    );

    // The orders: the busy day in the middle of the 30.
    let end = j2t_simulator::jst_today(480) - Days::days(2);
    let first = end - Days::days(29);
    let mut source = demo_orders(
        &DemoSpec {
            orders: orders - busy,
            days: 30,
            seed: 1,
            end_date: Some(end),
        },
        480,
    );
    source.extend(demo_orders(
        &DemoSpec {
            orders: busy,
            days: 1,
            seed: 2,
            end_date: Some(end - Days::days(15)),
        },
        480,
    ));
    // Under the admin API's 2 MB body limit.
    for chunk in source.chunks(500) {
        stack.admin.add_orders(chunk).await.expect("seeding");
    }
    let expected = reconcile::expected(&source, "Confirmed");
    let confirmed = source.iter().filter(|o| o["status"] == "Confirmed").count();
    drop(source);

    stack
        .admin
        .set_jst_faults(&JstFaults {
            http_5xx_probability: 0.1,
            per_second: Some(per_second),
            per_minute: Some(per_minute),
            seed: 7,
            ..Default::default()
        })
        .await
        .expect("JST faults");
    let tplus_faults = TplusFaults {
        timeout_after_commit_probability: 0.1,
        timeout_after_commit_ms: 3_000,
        seed: 7,
        ..Default::default()
    };
    stack
        .admin
        .set_tplus_faults(&tplus_faults)
        .await
        .expect("T+ faults");

    let env = vec![
        ("J2T__FETCHER__START_TIME", format!("{first} 00:00:00")),
        ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".to_string()),
        ("J2T__FETCHER__REQUESTS_PER_SECOND", per_second.to_string()),
        ("J2T__FETCHER__REQUESTS_PER_MINUTE", per_minute.to_string()),
        ("J2T__TPLUS__TIMEOUT_SECS", "2".to_string()),
    ];
    let started = Instant::now();
    let mut pipeline = Pipeline::start(&stack, env);

    // Chaos, spread over the run: each service killed twice, one NATS restart, one outage.
    let mut chaos: Vec<(Duration, &str)> = vec![
        (Duration::from_secs(20), "jst2tplus-fetcher"),
        (Duration::from_secs(35), "jst2tplus-transformer"),
        (Duration::from_secs(50), "jst2tplus-writer"),
        (Duration::from_secs(65), "nats"),
        (Duration::from_secs(80), "outage"),
        (Duration::from_secs(95), "jst2tplus-fetcher"),
        (Duration::from_secs(110), "jst2tplus-transformer"),
        (Duration::from_secs(80) + outage / 2, "jst2tplus-writer"),
        (Duration::from_secs(80) + outage, "outage over"),
    ];
    chaos.sort_by_key(|(at, _)| *at);
    let mut chaos = chaos.into_iter().peekable();

    let admin = stack.admin.clone();
    let mut last_report = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        pipeline.sample();
        while let Some((at, what)) = chaos.next_if(|(at, _)| started.elapsed() >= *at) {
            println!("{:>6.0} s: {what}", at.as_secs_f64());
            match what {
                "nats" => stack.nats_mut().restart().expect("nats-server restarts"),
                "outage" => admin
                    .set_tplus_faults(&TplusFaults {
                        outage: true,
                        ..tplus_faults.clone()
                    })
                    .await
                    .expect("outage on"),
                "outage over" => admin
                    .set_tplus_faults(&tplus_faults)
                    .await
                    .expect("outage off"),
                bin => {
                    let bin = SERVICES.into_iter().find(|s| *s == bin).expect("a service");
                    pipeline.kill_and_restart(&stack, bin);
                }
            }
        }
        let Ok(dtos) = admin.voucher_dtos().await else {
            continue;
        };
        let rows = reconcile::by_day(&expected, &dtos);
        let matching = rows.iter().filter(|r| r.matches).count();
        if last_report.elapsed() > Duration::from_secs(30) {
            println!(
                "{:>6.0} s: {matching}/{} days match, {} vouchers in T+",
                started.elapsed().as_secs_f64(),
                rows.len(),
                dtos.len()
            );
            last_report = Instant::now();
        }
        if chaos.peek().is_none() && rows.len() == 30 && matching == 30 {
            break;
        }
        assert!(
            started.elapsed() < limit,
            "soak: not done after {limit:?} ({matching}/30 days match)"
        );
    }
    let wall = started.elapsed();
    // Anything arriving after the match would be a duplicate.
    tokio::time::sleep(Duration::from_secs(10)).await;
    pipeline.sample();
    let dtos = admin.voucher_dtos().await.expect("vouchers");
    let rows = reconcile::by_day(&expected, &dtos);
    let exact = rows.iter().all(|r| r.matches);
    let duplicates = reconcile::duplicate_codes(&dtos);
    let dead = stream_messages(&stack.nats_url(), j2t_topology::names::DLQ_STREAM).await;

    let pages = (confirmed as f64 / 50.0).ceil();
    let floor = pages / f64::from(per_minute) * 60.0;
    println!("\nresult");
    println!("  Σ qty per (date, SKU) exact on all 30 days: {exact}");
    println!("  ExternalCodes twice: {}", duplicates.len());
    println!("  dead letters: {dead}");
    println!("  vouchers in T+: {}", dtos.len());
    println!(
        "  wall time {:.0} s; JST floor {floor:.0} s ({pages} pages at {per_minute}/min); ratio {:.2}",
        wall.as_secs_f64(),
        wall.as_secs_f64() / floor
    );
    for (bin, mib) in &pipeline.peak_mib {
        println!("  peak RSS {bin}: {mib:.1} MiB");
    }
    assert!(exact, "sums differ");
    assert!(duplicates.is_empty(), "duplicate codes: {duplicates:?}");
    assert_eq!(dead, 0, "dead letters");
}
