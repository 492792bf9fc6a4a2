//! The daily reconcile with real parts: a nats-server, the monitor running in-process with a
//! stand-in engine (its reports are made here, as `jst2tplus reconcile` would make them), and
//! a local HTTP receiver standing in for the webhook. Waits poll for an outcome; nothing
//! asserts on how long anything took.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use futures::future::BoxFuture;
use j2t_config::Config;
use j2t_monitor::Engine;
use j2t_reconcile::{Difference, Explanation, Report, Row, Totals, Whereabouts};
use j2t_runtime::{Readiness, ServiceContext};
use j2t_testkit::NatsServer;
use j2t_topology::{Topology, names};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Evaluation rounds are 1 s apart in these tests.
const ROUND: Duration = Duration::from_secs(1);

type Bodies = j2t_testkit::WebhookBodies;

/// A webhook receiver on 127.0.0.1 keeping every body.
async fn receiver() -> (String, Bodies) {
    j2t_testkit::webhook_receiver(json!({"ok": true})).await
}

/// Answers every run with `answer` (a report, or why it could not run) and counts the runs
/// and the ranges asked for.
struct StandIn {
    answer: Result<Report, String>,
    ranges: Mutex<Vec<(NaiveDate, NaiveDate)>>,
    runs: AtomicUsize,
}

impl StandIn {
    fn new(answer: Result<Report, String>) -> Arc<Self> {
        Arc::new(Self {
            answer,
            ranges: Mutex::default(),
            runs: AtomicUsize::new(0),
        })
    }
}

impl Engine for StandIn {
    fn reconcile<'a>(
        &'a self,
        _cfg: &'a Config,
        _topology: &'a Topology,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BoxFuture<'a, Result<Report, String>> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.ranges.lock().expect("lock").push((from, to));
        let answer = self.answer.clone().map(|r| Report { from, to, ..r });
        Box::pin(async move { answer })
    }
}

fn row(date: NaiveDate, sku: &str, jst: f64, tplus: f64) -> Row {
    Row {
        date,
        warehouse: "WH01".into(),
        sku: sku.into(),
        jst_qty: jst,
        jst_amount: jst * 10.0,
        tplus_qty: tplus,
        tplus_amount: tplus * 10.0,
    }
}

/// The day before yesterday lost a voucher in T+: SKU-A's 3 pieces from io_ids 101 and 102.
fn differing_report() -> Report {
    let day = Utc::now().date_naive() - chrono::Duration::days(2);
    let missing = row(day, "SKU-A", 3.0, 0.0);
    let explanation = |io_id| Explanation {
        io_id: Some(io_id),
        voucher: Some("J2T-GONE".into()),
        whereabouts: Whereabouts::MissingInTplus,
        detail: "merged into J2T-GONE, which T+ does not have".into(),
    };
    Report {
        version: j2t_reconcile::REPORT_VERSION,
        from: day,
        to: day,
        task: None,
        rows: vec![missing.clone(), row(day, "SKU-B", 2.0, 2.0)],
        totals: Totals {
            jst_orders: 3,
            jst_qty: 5.0,
            jst_amount: 50.0,
            tplus_vouchers: 1,
            tplus_qty: 2.0,
            tplus_amount: 20.0,
        },
        differences: vec![Difference {
            row: missing,
            explanations: vec![explanation(101), explanation(102)],
        }],
        jst_requests: 2,
        tplus_requests: 3,
        started_at: Utc::now(),
        elapsed_ms: 10,
    }
}

struct Monitor {
    topology: Topology,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Monitor {
    /// A monitor whose daily reconcile is due at once (00:00 JST has always passed today).
    async fn start(nats: &NatsServer, hook_url: &str, engine: Arc<dyn Engine>) -> Self {
        Self::start_with(nats, hook_url, engine, true).await
    }

    async fn start_with(
        nats: &NatsServer,
        hook_url: &str,
        engine: Arc<dyn Engine>,
        reconcile: bool,
    ) -> Self {
        let env: HashMap<String, String> = [
            ("J2T__NATS__URL", nats.url()),
            ("J2T__ADMIN__LISTEN", "127.0.0.1:0".into()),
            ("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".into()),
            ("J2T__MONITOR__EVALUATE_EVERY_SECS", "1".into()),
            ("J2T__MONITOR__LANGUAGE", "en".into()),
            ("J2T__MONITOR__RECONCILE_ENABLED", reconcile.to_string()),
            ("J2T__MONITOR__RECONCILE_AT", "00:00".into()),
            ("J2T__MONITOR__RECONCILE_DAYS", "3".into()),
            ("J2T__MONITOR__WEBHOOKS__TEST__URL", hook_url.into()),
            ("J2T__MONITOR__WEBHOOKS__TEST__FORMAT", "generic".into()),
            // The engine here calls no API. Whatever listens on the default ports of this
            // machine must not decide the start-up check: nothing listens on port 9.
            ("J2T__JST__BASE_URL", "http://127.0.0.1:9".into()),
            ("J2T__TPLUS__BASE_URL", "http://127.0.0.1:9".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let config = Config::load_with_env(None, Some(env)).expect("valid config");
        let topology = j2t_topology::open(&config).await.expect("topology");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(j2t_monitor::run_with(
            ServiceContext {
                config,
                shutdown: shutdown.clone(),
                readiness: Readiness::default(),
            },
            engine,
        ));
        Self {
            topology,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("monitor task")
            .expect("monitor stopped cleanly");
    }
}

async fn wait_until(what: &str, bodies: &Bodies, done: impl Fn(&[Value]) -> bool) {
    let poll = async {
        while !done(&bodies.lock().expect("lock")) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(120), poll)
        .await
        .is_err()
    {
        panic!(
            "never saw {what}; received: {:#?}",
            bodies.lock().expect("lock")
        );
    }
}

fn find<'a>(bodies: &'a [Value], alert: &str, status: &str) -> Vec<&'a Value> {
    bodies
        .iter()
        .filter(|b| b["alert"] == alert && b["status"] == status)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_differing_run_alerts_once_a_day_and_resolves_when_a_later_run_is_equal() {
    let nats = NatsServer::start().expect("nats-server");
    let (url, bodies) = receiver().await;
    let engine = StandIn::new(Ok(differing_report()));
    let monitor = Monitor::start(&nats, &url, engine.clone()).await;

    wait_until("books_differ firing and the digest", &bodies, |b| {
        !find(b, "books_differ", "firing").is_empty()
            && !find(b, "daily_digest", "digest").is_empty()
    })
    .await;
    // The run covered the last 3 days, ending yesterday (JST).
    let today = (Utc::now() + chrono::Duration::hours(8)).date_naive();
    assert_eq!(
        *engine.ranges.lock().expect("lock"),
        [(
            today - chrono::Duration::days(3),
            today - chrono::Duration::days(1)
        )]
    );
    {
        let received = bodies.lock().expect("lock");
        let alert = find(&received, "books_differ", "firing")[0];
        assert_eq!(alert["severity"], "critical");
        assert!(
            alert["summary"]
                .as_str()
                .expect("a summary")
                .starts_with("JST and T+ differ in 1 rows for "),
            "{alert}"
        );
        let worst = &alert["details"]["worst"][0];
        assert_eq!(worst["sku"], "SKU-A", "{alert}");
        assert_eq!(worst["warehouse"], "WH01");
        assert_eq!(
            (worst["jst_qty"].as_f64(), worst["tplus_qty"].as_f64()),
            (Some(3.0), Some(0.0))
        );
        assert_eq!(worst["explanations"][0]["io_id"], 101);
        assert_eq!(
            worst["explanations"][0]["whereabouts"]["kind"],
            "missing_in_tplus"
        );
        let digest = find(&received, "daily_digest", "digest")[0];
        assert_eq!(digest["details"]["books"]["state"], "differ", "{digest}");
        assert_eq!(digest["details"]["books"]["differing_rows"], 1);
        assert_eq!(
            digest["summary"]
                .as_str()
                .map(|s| s.starts_with("Books: 1 rows differ")),
            Some(true)
        );
    }

    // A second monitor on the same day (a restart, or a replica): it alerts alike (the
    // result is in the bucket) but neither runs the reconcile nor sends the digest again.
    let (url2, bodies2) = receiver().await;
    let engine2 = StandIn::new(Ok(differing_report()));
    let second = Monitor::start(&nats, &url2, engine2.clone()).await;
    wait_until("the second monitor's books_differ", &bodies2, |b| {
        !find(b, "books_differ", "firing").is_empty()
    })
    .await;
    tokio::time::sleep(ROUND * 5).await;
    assert_eq!(engine2.runs.load(Ordering::SeqCst), 0);
    assert_eq!(engine.runs.load(Ordering::SeqCst), 1);
    assert!(find(&bodies2.lock().expect("lock"), "daily_digest", "digest").is_empty());
    assert_eq!(
        find(&bodies.lock().expect("lock"), "daily_digest", "digest").len(),
        1
    );
    second.stop().await;

    // The next day's run finds the books equal (written as a monitor would): resolved.
    let kv = monitor.topology.reconcile.clone();
    let latest = kv
        .get(names::RECONCILE_LATEST_KEY)
        .await
        .expect("read")
        .expect("the latest run");
    let mut next: Value = serde_json::from_slice(&latest).expect("json");
    assert_eq!(next["state"], "differ");
    assert_eq!(next["outcome"]["differing_rows"], 1);
    next["day"] = json!(today + chrono::Duration::days(1));
    next["state"] = json!("equal");
    next["outcome"]["differences"] = json!([]);
    next["outcome"]["differing_rows"] = json!(0);
    let bytes: bytes::Bytes = serde_json::to_vec(&next).expect("json").into();
    for key in [names::RECONCILE_LATEST_KEY, names::RECONCILE_CHECKED_KEY] {
        kv.put(key, bytes.clone()).await.expect("stored");
    }
    wait_until("books_differ resolved", &bodies, |b| {
        !find(b, "books_differ", "resolved").is_empty()
    })
    .await;
    {
        let received = bodies.lock().expect("lock");
        let resolved = find(&received, "books_differ", "resolved")[0];
        assert_eq!(
            resolved["summary"],
            "The latest reconcile found JST and T+ equal"
        );
        assert!(find(&received, "reconcile_failed", "firing").is_empty());
    }
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_could_not_run_alerts_with_the_reason() {
    let nats = NatsServer::start().expect("nats-server");
    let (url, bodies) = receiver().await;
    let engine = StandIn::new(Err("T+: connection refused".into()));
    let monitor = Monitor::start(&nats, &url, engine.clone()).await;
    wait_until("reconcile_failed firing and the digest", &bodies, |b| {
        !find(b, "reconcile_failed", "firing").is_empty()
            && !find(b, "daily_digest", "digest").is_empty()
    })
    .await;
    let received = bodies.lock().expect("lock").clone();
    let alert = find(&received, "reconcile_failed", "firing")[0];
    assert_eq!(
        alert["details"]["error"], "T+: connection refused",
        "{alert}"
    );
    assert!(
        alert["summary"]
            .as_str()
            .expect("summary")
            .ends_with("could not run: T+: connection refused")
    );
    // Nothing was compared: no "books differ".
    assert!(find(&received, "books_differ", "firing").is_empty());
    let digest = find(&received, "daily_digest", "digest")[0];
    assert_eq!(digest["details"]["books"]["state"], "failed", "{digest}");
    assert_eq!(engine.runs.load(Ordering::SeqCst), 1);
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_reconcile_off_the_digest_still_goes_out_once_a_day() {
    let nats = NatsServer::start().expect("nats-server");
    let (url, bodies) = receiver().await;
    let engine = StandIn::new(Ok(differing_report()));
    let first = Monitor::start_with(&nats, &url, engine.clone(), false).await;
    wait_until("the digest", &bodies, |b| {
        !find(b, "daily_digest", "digest").is_empty()
    })
    .await;
    // A second monitor the same day: no second digest.
    let (url2, bodies2) = receiver().await;
    let second = Monitor::start_with(&nats, &url2, engine.clone(), false).await;
    tokio::time::sleep(ROUND * 5).await;
    first.stop().await;
    second.stop().await;
    let received = bodies.lock().expect("lock").clone();
    assert_eq!(received.len(), 1, "{received:#?}");
    let digest = &received[0];
    assert_eq!(digest["details"]["books"]["state"], "off", "{digest}");
    assert_eq!(
        digest["summary"],
        "Books: daily reconcile off (monitor.reconcile_enabled)"
    );
    assert!(bodies2.lock().expect("lock").is_empty());
    assert_eq!(engine.runs.load(Ordering::SeqCst), 0);
}
