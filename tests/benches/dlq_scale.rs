//! Dead letters at scale: with 100,000 letters in `J2T_DLQ` (a thousand of them replayed),
//! how long the operator's first page (`jst2tplus dlq list`), the console's status call
//! (`GET /api/status`) and its dead-letter page (`GET /api/dead-letters`) take. Before issue
//! 11 each of these read the whole stream, two round trips per entry.
//!
//! `cargo bench -p j2t-e2e --bench dlq_scale`
//! Optional: `J2T_BENCH_LETTERS` (default 100000), `J2T_BENCH_REPLAYED` (default 1000).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use j2t_config::Config;
use j2t_domain::{DeadLetter, DeadLetterReason, Stage};
use j2t_e2e::harness::env_or;
use j2t_testkit::{NatsServer, Service};
use serde_json::json;

/// The console's token in this run.
const TOKEN: &str = "bench-token";

/// Publishes awaiting at most this many acks at once.
const IN_FLIGHT: usize = 1000;

fn letter(i: usize) -> DeadLetter {
    let (stage, reason) = match i % 4 {
        0 => (Stage::Transformer, DeadLetterReason::BadOrder),
        1 => (Stage::Writer, DeadLetterReason::RetriesExhausted),
        _ => (Stage::Writer, DeadLetterReason::Rejected),
    };
    DeadLetter::first_attempt(
        stage,
        reason,
        format!("T+ rejected the voucher: inventory SKU-{i:06} does not exist"),
        "j2t.vouchers.other_dispatch".into(),
        json!({
            "external_code": format!("JT20261125-BENCH{i:06}-1"),
            "io_ids": [i, i + 1_000_000],
            "payload": {"dto": {"ExternalCode": format!("JT20261125-BENCH{i:06}-1"),
                "Details": [{"Inventory": {"Code": format!("SKU-{i:06}")}, "Quantity": 1}]}},
        }),
    )
}

fn timed<T>(what: &str, started: Instant, value: T) -> T {
    println!("{what}: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    value
}

#[tokio::main]
async fn main() {
    let letters = env_or("J2T_BENCH_LETTERS", 100_000);
    let replayed = env_or("J2T_BENCH_REPLAYED", 1000);
    let nats = NatsServer::start().expect("nats-server");
    let env: HashMap<String, String> = [("J2T__NATS__URL".to_string(), nats.url())].into();
    let config = Config::load_with_env(None, Some(env)).expect("config");
    let topology = j2t_topology::open(&config).await.expect("topology");

    // Seed straight into the stream: async publishes, at most IN_FLIGHT acks outstanding.
    let started = Instant::now();
    let js = topology.js.clone();
    futures::stream::iter(0..letters)
        .map(|i| {
            let js = js.clone();
            async move {
                let letter = letter(i);
                let subject = j2t_topology::names::dlq_subject(letter.stage, letter.reason);
                let body = serde_json::to_vec(&letter).expect("json");
                js.publish(subject, body.into())
                    .await
                    .expect("publish")
                    .await
                    .expect("ack")
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|_| async {})
        .await;
    timed(&format!("seeded {letters} dead letters"), started, ());
    // Mark some replayed, spread over the stream, as `dlq replay` would.
    let dlq = j2t_stores::DeadLetters::new(&topology);
    let started = Instant::now();
    let step = (letters / replayed.max(1)).max(1);
    for id in (1..=letters as u64).step_by(step).take(replayed) {
        let entry = dlq.get(id).await.expect("get").expect("entry");
        dlq.replay(&entry).await.expect("replay");
    }
    timed(&format!("replayed {replayed}"), started, ());

    let env = vec![
        ("J2T__NATS__URL".to_string(), nats.url()),
        ("J2T__ADMIN__LISTEN".to_string(), "127.0.0.1:0".to_string()),
        (
            "J2T__MONITOR__CONSOLE_LISTEN".to_string(),
            "127.0.0.1:0".to_string(),
        ),
        ("J2T__MONITOR__CONSOLE_TOKEN".to_string(), TOKEN.to_string()),
        ("RUST_LOG".to_string(), "error".to_string()),
    ];
    let mut monitor = Service::spawn("jst2tplus-monitor", &env).expect("monitor");
    let console = monitor.listening("console").await.expect("console");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client");

    println!("\n{letters} dead letters, {replayed} replayed:");
    for round in 1..=3 {
        let started = Instant::now();
        let out =
            tokio::process::Command::new(j2t_testkit::workspace_bin("jst2tplus").expect("the CLI"))
                .args(["dlq", "list", "--limit", "100"])
                .envs(env.iter().cloned())
                .output()
                .await
                .expect("dlq list");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        timed(
            &format!("round {round}: `jst2tplus dlq list` (first page of 100, process included)"),
            started,
            (),
        );
        let started = Instant::now();
        let status: serde_json::Value = http
            .get(format!("http://{console}/api/status"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        timed(&format!("round {round}: GET /api/status"), started, ());
        let total: u64 = status["dead_letters"]
            .as_object()
            .expect("dead letters")
            .values()
            .filter_map(|v| v.as_u64())
            .sum();
        assert_eq!(total as usize, letters - replayed, "pending dead letters");
        let started = Instant::now();
        let rows: Vec<serde_json::Value> = http
            .get(format!("http://{console}/api/dead-letters?limit=100"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("dead letters")
            .json()
            .await
            .expect("json");
        timed(
            &format!("round {round}: GET /api/dead-letters?limit=100"),
            started,
            (),
        );
        assert_eq!(rows.len(), 100);
    }
    let started = Instant::now();
    let counts = dlq.counts().await.expect("counts");
    timed("DeadLetters::counts (library)", started, ());
    println!("{counts:?}");
    drop(monitor);
}
