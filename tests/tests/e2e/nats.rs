//! NATS itself misbehaving or misused: a long outage mid-sync, operator commands against the
//! live topology, a configuration that would shrink dedup retention, streams filling up.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use j2t_e2e::harness::{Stack, admin_port, eventually, metric};
use j2t_simulator::TplusFaults;
use j2t_testkit::workspace_bin;
use j2t_topology::names;
use jst2tplus::reconcile;

use crate::support::{cli, seed};
use serde_json::Value;

async fn readyz(port: u16) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let answer = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .ok()?;
    Some(answer.status().as_u16())
}

/// Issue 11: a 60-second NATS outage in the middle of a sync. Time-scaled: NATS stays down
/// until a service's `/readyz` has gone red and at least 12 s in all (standing in for 60 s:
/// every timer involved — readiness checks every 10 s, pull heartbeats, reconnects, the
/// consumer's rebuild backoff up to 8 s, the fetcher's 5 s retry — is shorter than that, so
/// 12 s exercises the same paths). Every service rides it out: `/readyz` goes red and back,
/// and T+ ends up with the exact sums, no ExternalCode twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_nats_outage_mid_sync_loses_and_doubles_nothing() {
    let logs = std::env::var_os("J2T_TEST_LOG_DIR").map(std::path::PathBuf::from);
    let mut stack = Stack::start_with(&[], logs.as_deref()).await;
    let (expected, start) = seed(&stack, 300, 6, 11, &[]).await;
    // Slow T+ and one voucher at a time, so the outage falls while vouchers are written.
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            latency_ms: 400,
            ..Default::default()
        })
        .await
        .expect("faults");
    let env = [
        ("J2T__FETCHER__START_TIME", start),
        ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".to_string()),
        ("J2T__WRITER__CONCURRENCY", "1".to_string()),
        ("J2T__WRITER__ACK_WAIT_SECS", "10".to_string()),
        ("J2T__WRITER__RETRY_BASE_SECS", "1".to_string()),
        ("J2T__WRITER__MAX_RETRY_DELAY_SECS", "2".to_string()),
        ("J2T__WRITER__MAX_DELIVER", "50".to_string()),
    ];
    let mut services: Vec<_> = [
        "jst2tplus-fetcher",
        "jst2tplus-transformer",
        "jst2tplus-writer",
    ]
    .into_iter()
    .map(|bin| stack.spawn(bin, &env))
    .collect();
    let mut ports = Vec::new();
    for service in &mut services {
        ports.push(admin_port(service).await);
    }
    for &port in &ports {
        eventually(Duration::from_secs(60), "every service ready", || async {
            (readyz(port).await == Some(200)).then_some(())
        })
        .await;
    }
    let admin = stack.admin.clone();
    eventually(
        Duration::from_secs(120),
        "the first vouchers in T+",
        || async {
            let written = admin.voucher_dtos().await.ok()?.len();
            (written > 0).then_some(())
        },
    )
    .await;
    let written_before = admin.voucher_dtos().await.expect("vouchers").len();

    stack.nats_mut().stop();
    let stopped = Instant::now();
    let writer_port = ports[2];
    eventually(
        Duration::from_secs(60),
        "the writer's /readyz to go red",
        || async { readyz(writer_port).await.filter(|s| *s != 200).map(|_| ()) },
    )
    .await;
    let outage = Duration::from_secs(12);
    if let Some(rest) = outage.checked_sub(stopped.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    for service in &mut services {
        assert!(
            service.exited().is_none(),
            "{} died in the outage",
            service.name
        );
    }
    stack
        .nats_mut()
        .start_again()
        .expect("nats-server starts again");

    for (service, &port) in services.iter().zip(&ports) {
        let what = format!("{} ready again", service.name);
        eventually(Duration::from_secs(90), &what, || async {
            (readyz(port).await == Some(200)).then_some(())
        })
        .await;
    }
    let dtos = eventually(Duration::from_secs(240), "T+ sums to match JST", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(&expected, &dtos);
        (!rows.is_empty() && rows.iter().all(|r| r.matches)).then_some(dtos)
    })
    .await;
    assert!(
        written_before < dtos.len(),
        "the outage must fall mid-sync: {written_before} of {} written before",
        dtos.len()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = admin.voucher_dtos().await.expect("vouchers");
    assert_eq!(settled.len(), dtos.len(), "vouchers kept arriving");
    assert!(reconcile::duplicate_codes(&settled).is_empty());
    assert!(
        reconcile::by_day(&expected, &settled)
            .iter()
            .all(|r| r.matches)
    );
}

const STREAMS: [&str; 5] = [
    names::ORDERS_STREAM,
    names::WINDOWS_STREAM,
    names::VOUCHERS_STREAM,
    names::DLQ_STREAM,
    names::RESULTS_STREAM,
];

const BUCKETS: [&str; 10] = [
    names::CURSORS_BUCKET,
    names::SEEN_BUCKET,
    names::TOKENS_BUCKET,
    names::LEASES_BUCKET,
    names::RATE_BUCKET,
    names::ATTEMPTS_BUCKET,
    names::DLQ_REPLAYED_BUCKET,
    names::LINEAGE_BUCKET,
    names::VOUCHER_STATE_BUCKET,
    names::SIGNALS_BUCKET,
];

/// The configuration of every stream, bucket and durable consumer, as the server has it.
async fn topology_configs(nats_url: &str) -> BTreeMap<String, Value> {
    let client = async_nats::connect(nats_url).await.expect("nats");
    let js = async_nats::jetstream::new(client);
    let mut configs = BTreeMap::new();
    let streams = STREAMS
        .iter()
        .map(|s| s.to_string())
        .chain(BUCKETS.iter().map(|b| format!("KV_{b}")));
    for name in streams {
        let mut stream = js.get_stream(&name).await.expect("stream");
        let info = stream.info().await.expect("info").clone();
        configs.insert(name, serde_json::to_value(&info.config).expect("json"));
    }
    for (stream, consumer) in [
        (names::WINDOWS_STREAM, names::TRANSFORMER_CONSUMER),
        (names::VOUCHERS_STREAM, names::WRITER_CONSUMER),
    ] {
        let stream = js.get_stream(stream).await.expect("stream");
        let mut consumer = stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer)
            .await
            .expect("consumer");
        let config = consumer.info().await.expect("consumer info").config.clone();
        configs.insert(
            format!(
                "consumer {}",
                config.durable_name.clone().unwrap_or_default()
            ),
            serde_json::to_value(&config).expect("json"),
        );
    }
    configs
}

/// Runs the CLI with the stack's environment plus `extra`; returns success and all output.
/// Issue 11: operator commands only look the topology up. With a configuration that differs
/// from the services' (max_deliver, dedup retention, byte limits) they leave every stream,
/// bucket and consumer as it was; without a topology they say so instead of creating one.
#[tokio::test(flavor = "multi_thread")]
async fn operator_commands_leave_the_topology_as_the_services_set_it() {
    let stack = Stack::start().await;
    let (ok, text) = cli(&stack, &[], &["dlq", "list"]);
    assert!(!ok, "no topology yet must be an error: {text}");
    assert!(text.contains("J2T_ORDERS"), "names what is missing: {text}");
    assert!(text.contains("services create"), "{text}");
    assert!(
        topology_configs_missing(&stack.nats_url()).await,
        "the CLI created streams"
    );

    let _writer = ready_writer(&stack).await;
    let before = topology_configs(&stack.nats_url()).await;
    let other = [
        ("J2T__WRITER__MAX_DELIVER", "2"),
        ("J2T__FETCHER__DEDUP_RETENTION_DAYS", "7"),
        ("J2T__NATS__BUCKET_MAX_BYTES", "100000"),
        ("J2T__NATS__VOUCHERS_MAX_BYTES", "100000"),
    ];
    let commands: [&[&str]; 4] = [
        &["dlq", "list"],
        &["dlq", "list", "--all"],
        &["whereis", "123456"],
        &["render", "--live-window", "20261125000000-20261125235959"],
    ];
    for args in commands {
        let (_, text) = cli(&stack, &other, args);
        assert!(!text.contains("NATS topology, stream"), "{args:?}: {text}");
    }
    let after = topology_configs(&stack.nats_url()).await;
    assert_eq!(before.len(), 17);
    for (name, config) in &before {
        assert_eq!(Some(config), after.get(name), "{name} changed");
    }
}

async fn topology_configs_missing(nats_url: &str) -> bool {
    let client = async_nats::connect(nats_url).await.expect("nats");
    let js = async_nats::jetstream::new(client);
    js.get_stream(names::ORDERS_STREAM).await.is_err()
}

/// Issue 11: a service configured to remember io_ids for less time than the dedup bucket
/// does refuses to start, naming the key; the bucket keeps its retention.
#[tokio::test(flavor = "multi_thread")]
async fn a_service_refuses_to_shrink_the_dedup_retention() {
    let stack = Stack::start().await;
    let _writer = ready_writer(&stack).await;
    let before = topology_configs(&stack.nats_url()).await;
    let output = Command::new(workspace_bin("jst2tplus-fetcher").expect("fetcher"))
        .envs(stack.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("J2T__FETCHER__DEDUP_RETENTION_DAYS", "30")
        .output()
        .expect("fetcher runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("fetcher.dedup_retention_days"), "{text}");
    assert!(text.contains(names::SEEN_BUCKET), "{text}");
    let after = topology_configs(&stack.nats_url()).await;
    assert_eq!(before, after);

    // A longer retention is fine.
    let mut fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[("J2T__FETCHER__DEDUP_RETENTION_DAYS", "120".into())],
    );
    let port = admin_port(&mut fetcher).await;
    eventually(Duration::from_secs(60), "the fetcher ready", || async {
        (readyz(port).await == Some(200)).then_some(())
    })
    .await;
}

/// Issue 11: streams have byte limits from config; usage is exported per store by the
/// monitor and the storage alert fires at 80 %. A tiny J2T_ORDERS limit fills while orders
/// are fetched; the full stream refuses more (the fetcher retries) instead of dropping any.
#[tokio::test(flavor = "multi_thread")]
async fn a_small_byte_limit_sets_off_the_storage_alert() {
    let stack = Stack::start_with(
        &[
            ("J2T__NATS__ORDERS_MAX_BYTES", "65536".to_string()),
            ("J2T__MONITOR__EVALUATE_EVERY_SECS", "1".to_string()),
        ],
        None,
    )
    .await;
    let (_, start) = seed(&stack, 300, 3, 11, &[]).await;
    let mut monitor = stack.spawn(
        "jst2tplus-monitor",
        &[("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".to_string())],
    );
    let port = admin_port(&mut monitor).await;
    let _fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", start),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".to_string()),
        ],
    );
    let limit = eventually(Duration::from_secs(60), "the limit exported", || async {
        metric(port, "j2t_storage_limit_bytes{store=\"J2T_ORDERS\"}").await
    })
    .await;
    assert_eq!(limit, 65536.0);
    let ratio = eventually(Duration::from_secs(120), "J2T_ORDERS at 80 %", || async {
        metric(port, "j2t_storage_usage_ratio{store=\"J2T_ORDERS\"}")
            .await
            .filter(|r| *r >= 0.8)
    })
    .await;
    assert!(ratio <= 1.0, "{ratio}");
    eventually(
        Duration::from_secs(30),
        "the storage alert firing",
        || async {
            metric(port, "j2t_alerts_firing{alert=\"storage_full\"}")
                .await
                .filter(|n| *n >= 1.0)
        },
    )
    .await;
    // Buckets are exported too, under their own names.
    assert!(
        metric(port, "j2t_storage_limit_bytes{store=\"j2t_seen\"}")
            .await
            .is_some()
    );
}

/// A writer, once its /readyz says 200 (it has set the topology up).
async fn ready_writer(stack: &Stack) -> j2t_testkit::Service {
    let mut writer = stack.spawn("jst2tplus-writer", &[]);
    let port = admin_port(&mut writer).await;
    eventually(Duration::from_secs(60), "the writer ready", || async {
        (readyz(port).await == Some(200)).then_some(())
    })
    .await;
    writer
}
