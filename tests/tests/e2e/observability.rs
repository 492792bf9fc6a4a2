//! What operators observe: /metrics counters equal what happened and pass `promtool check
//! metrics` (latency as histograms with buckets), and no configured secret
//! (nor a refreshed token) ever appears in any process's logs, even at debug level.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use j2t_e2e::harness::{Stack, admin_port, eventually, metric, published_io_ids, stream_messages};
use j2t_topology::names;
use jst2tplus::reconcile::{self, QtyBySku};

use crate::support::seed;

async fn sums_match(stack: &Stack, expected: &QtyBySku) {
    let admin = &stack.admin;
    eventually(Duration::from_secs(180), "T+ sums to match JST", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(expected, &dtos);
        (!rows.is_empty() && rows.iter().all(|r| r.matches)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_happened() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 200, 4, 77, &[]).await;
    let start = ("J2T__FETCHER__START_TIME", start);
    let mut services = [
        stack.spawn("jst2tplus-fetcher", &[start]),
        stack.spawn("jst2tplus-transformer", &[]),
        stack.spawn("jst2tplus-writer", &[]),
        stack.spawn(
            "jst2tplus-monitor",
            &[
                ("J2T__MONITOR__EVALUATE_EVERY_SECS", "1".into()),
                ("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".into()),
            ],
        ),
    ];
    let mut ports = Vec::new();
    for service in &mut services {
        ports.push(admin_port(service).await);
    }
    sums_match(&stack, &expected).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    for port in &ports {
        let readyz = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .expect("readyz");
        assert_eq!(readyz.status(), 200, "{:?}", readyz.text().await);
    }

    let nats = stack.nats_url();
    let published = published_io_ids(&nats).await.len() as f64;
    let vouchers = stream_messages(&nats, names::VOUCHERS_STREAM).await as f64;
    let written = stack.admin.stats().await.expect("stats").vouchers as f64;
    assert!(published > 0.0 && vouchers > 0.0);
    assert_eq!(written, vouchers, "every voucher built was written");
    assert_eq!(
        metric(
            ports[0],
            r#"j2t_fetcher_orders_published_total{task="default"}"#
        )
        .await,
        Some(published)
    );
    assert_eq!(
        metric(ports[1], "j2t_transformer_orders_total").await,
        Some(published)
    );
    assert_eq!(
        metric(ports[1], "j2t_transformer_vouchers_total").await,
        Some(vouchers)
    );
    assert_eq!(
        metric(ports[2], r#"j2t_writer_vouchers_total{outcome="created"}"#).await,
        Some(written)
    );
    let ok_calls = metric(
        ports[2],
        r#"j2t_tplus_requests_total{endpoint="/tplus/api/v2/otherDispatch/Create",status="200"}"#,
    )
    .await;
    assert_eq!(ok_calls, Some(written));
    eventually(Duration::from_secs(30), "the monitor's gauges", || async {
        let stored = metric(ports[3], r#"j2t_stage_stored{stage="written"}"#).await?;
        let backlog = metric(ports[3], r#"j2t_stage_backlog{stage="vouchers"}"#).await?;
        let dead = metric(
            ports[3],
            r#"j2t_dead_letters_pending{stage="writer",reason="rejected"}"#,
        )
        .await?;
        (stored == written && backlog == 0.0 && dead == 0.0).then_some(())
    })
    .await;

    // Every service's exposition follows Prometheus conventions, and latency is exported as
    // histograms (aggregatable across replicas), not summaries.
    let services = ["fetcher", "transformer", "writer", "monitor"];
    let histograms: [&[&str]; 4] = [
        &[
            "j2t_jst_request_duration_seconds",
            "j2t_jst_rate_limit_wait_seconds",
        ],
        &[],
        &["j2t_tplus_request_duration_seconds"],
        &[],
    ];
    for ((service, port), expected) in services.iter().zip(&ports).zip(histograms) {
        let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        promtool_check_metrics(service, &text);
        for name in expected {
            assert!(
                text.contains(&format!("# TYPE {name} histogram")),
                "{service}: {name} is a histogram:\n{text}"
            );
        }
        for line in text.lines() {
            assert!(
                !line.starts_with("# TYPE") || !line.ends_with(" summary"),
                "{service}: {line}"
            );
            if let Some(name) = line
                .strip_prefix("# TYPE ")
                .and_then(|l| l.strip_suffix(" histogram"))
            {
                let buckets = text
                    .lines()
                    .filter(|l| l.starts_with(&format!("{name}_bucket{{")))
                    .count();
                assert!(buckets > 1, "{service}: {name} has _bucket series:\n{text}");
            }
        }
    }
}

/// `promtool check metrics` (stdin) must print nothing and succeed.
fn promtool_check_metrics(service: &str, exposition: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let promtool = std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{promtool}` ({e}): install Debian's `prometheus` package \
                 (`apt-get install prometheus`, as CI's .ci/run does), or set PROMTOOL_BIN"
            )
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics on the {service}'s /metrics ({}):\n{said}\n--- exposition:\n{exposition}",
        output.status
    );
}

fn unique(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("sekrit-{what}-{nanos:x}")
}

/// Values stored in the tokens bucket: the refreshed pairs.
async fn stored_tokens(nats_url: &str) -> Vec<String> {
    let js = jetstream::new(async_nats::connect(nats_url).await.expect("nats"));
    let kv = js
        .get_key_value(names::TOKENS_BUCKET)
        .await
        .expect("bucket");
    let mut values = Vec::new();
    for key in ["jst.demo-jst-app-key", "tplus.demo-tplus-app-key"] {
        let bytes = kv
            .get(key)
            .await
            .expect("get")
            .expect("refreshed tokens stored");
        let pair: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        for field in ["access_token", "refresh_token"] {
            values.push(pair[field].as_str().expect("token").to_string());
        }
    }
    values
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_appears_in_any_log_even_at_debug_level() {
    let logs = tempfile::tempdir().expect("tempdir");
    let secrets = [
        ("J2T__JST__APP_SECRET", unique("jst-secret")),
        ("J2T__JST__ACCESS_TOKEN", unique("jst-access")),
        ("J2T__JST__REFRESH_TOKEN", unique("jst-refresh")),
        ("J2T__TPLUS__APP_SECRET", unique("tplus-secret")),
        ("J2T__TPLUS__OPEN_TOKEN", unique("tplus-open")),
        ("J2T__TPLUS__REFRESH_TOKEN", unique("tplus-refresh")),
        ("J2T__MONITOR__CONSOLE_TOKEN", unique("console")),
    ];
    let hook = unique("robot");
    let mut env: Vec<(&str, String)> = secrets.to_vec();
    env.push(("RUST_LOG", "debug".into()));
    env.push((
        "J2T__MONITOR__WEBHOOKS__OPS__URL",
        format!("http://127.0.0.1:9/robot/send?access_token={hook}"),
    ));
    env.push(("J2T__MONITOR__WEBHOOKS__OPS__FORMAT", "dingtalk".into()));
    env.push(("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".into()));
    let stack = Stack::start_with(&env, Some(logs.path())).await;
    let (expected, start) = seed(&stack, 120, 3, 77, &[]).await;
    let start = [("J2T__FETCHER__START_TIME", start)];
    let _services: Vec<_> = [
        "jst2tplus-fetcher",
        "jst2tplus-transformer",
        "jst2tplus-writer",
        "jst2tplus-monitor",
    ]
    .into_iter()
    .map(|bin| stack.spawn(bin, &start))
    .collect();
    // Both APIs refresh their tokens mid-run, so new secrets pass through the clients too.
    stack
        .admin
        .expire_jst_token()
        .await
        .expect("expire JST token");
    stack
        .admin
        .expire_tplus_token()
        .await
        .expect("expire T+ token");
    sums_match(&stack, &expected).await;
    let stats = stack.admin.stats().await.expect("stats");
    assert!(
        stats.jst_token_refreshes >= 1 && stats.tplus_token_refreshes >= 1,
        "{stats:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut values: Vec<String> = secrets.iter().map(|(_, v)| v.clone()).collect();
    values.push(hook);
    values.extend(stored_tokens(&stack.nats_url()).await);
    let mut read = 0;
    // The writer and the transformer (master data) both call T+ and share its tokens:
    // whichever calls first after the expiry refreshes them.
    let mut tplus_refresh_logged = false;
    for entry in std::fs::read_dir(logs.path()).expect("log dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("log");
        read += text.len();
        for value in &values {
            assert!(
                !text.contains(value.as_str()),
                "{} leaks a secret ({} bytes of log)",
                path.display(),
                text.len()
            );
        }
        if path.ends_with("jst2tplus-fetcher.log") {
            assert!(text.contains("JST request") && text.contains("[REDACTED]"));
        }
        if path.ends_with("jst2tplus-writer.log") {
            assert!(text.contains("T+ request"));
        }
        if path.ends_with("jst2tplus-writer.log") || path.ends_with("jst2tplus-transformer.log") {
            tplus_refresh_logged |= text.contains("T+ token refresh");
        }
    }
    assert!(
        tplus_refresh_logged,
        "a T+ token refresh was logged (and checked)"
    );
    assert!(read > 10_000, "debug logs were written ({read} bytes)");
}
