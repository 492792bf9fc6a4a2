//! Webhook alerting with real parts: a nats-server, the monitor running in-process, and a
//! local HTTP receiver standing in for the webhook. Waits poll for an outcome; nothing
//! asserts on how long anything took.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use j2t_config::Config;
use j2t_domain::{DeadLetter, DeadLetterReason, Stage};
use j2t_runtime::{Readiness, ServiceContext};
use j2t_stores::{DeadLetters, DlqFilter};
use j2t_testkit::NatsServer;
use j2t_topology::Topology;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Evaluation rounds are 1 s apart in these tests.
const ROUND: Duration = Duration::from_secs(1);

type Bodies = j2t_testkit::WebhookBodies;

/// An HTTP receiver on 127.0.0.1 that keeps every body POSTed to `/hook` and answers
/// `answer`. Returns its URL (with a robot-style token, as real receivers have) and the bodies.
async fn receiver(answer: Value) -> (String, Bodies) {
    let (url, bodies) = j2t_testkit::webhook_receiver(answer).await;
    (format!("{url}?access_token=robot-token-123"), bodies)
}

struct Monitor {
    topology: Topology,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Monitor {
    async fn start(nats: &NatsServer, hook_url: &str, format: &str, language: &str) -> Self {
        Self::start_with(nats, hook_url, format, language, &[]).await
    }

    /// [`Monitor::start`] with more configuration (e.g. the webhook's signing secret).
    async fn start_with(
        nats: &NatsServer,
        hook_url: &str,
        format: &str,
        language: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let mut env: HashMap<String, String> = [
            ("J2T__NATS__URL", nats.url()),
            ("J2T__ADMIN__LISTEN", "127.0.0.1:0".into()),
            ("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".into()),
            ("J2T__MONITOR__EVALUATE_EVERY_SECS", "1".into()),
            ("J2T__MONITOR__LANGUAGE", language.into()),
            // These tests count every message: no daily digest among them.
            ("J2T__MONITOR__DIGEST_ENABLED", "false".into()),
            ("J2T__MONITOR__WEBHOOKS__TEST__URL", hook_url.into()),
            ("J2T__MONITOR__WEBHOOKS__TEST__FORMAT", format.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::load_with_env(None, Some(env)).expect("valid config");
        let topology = j2t_topology::open(&config).await.expect("topology");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(j2t_monitor::run(ServiceContext {
            config,
            shutdown: shutdown.clone(),
            readiness: Readiness::default(),
        }));
        Self {
            topology,
            shutdown,
            task,
        }
    }

    async fn dead_letter(&self, stage: Stage, reason: DeadLetterReason, id: &str) {
        let letter = DeadLetter::first_attempt(
            stage,
            reason,
            format!("T+ rejected voucher {id}"),
            "j2t.vouchers.test".into(),
            json!({ "ExternalCode": id }),
        );
        j2t_stores::publish_dead_letter(&self.topology.js, &letter, &format!("dl-{id}"))
            .await
            .expect("dead letter stored");
    }

    /// What an operator does once the cause is fixed: drop every dead letter.
    async fn clear_dlq(&self) {
        let dlq = DeadLetters::new(&self.topology);
        let entries = dlq.list(&DlqFilter::default()).await.expect("list the DLQ");
        assert!(!entries.is_empty());
        dlq.purge(&entries).await.expect("purge the DLQ");
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("monitor task")
            .expect("monitor stopped cleanly");
    }
}

/// Polls until `done` holds. The deadline only keeps a broken build from hanging CI.
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

fn count(bodies: &[Value], alert: &str, status: &str) -> usize {
    bodies
        .iter()
        .filter(|b| b["alert"] == alert && b["status"] == status)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_dead_letters_is_one_alert_and_clearing_the_dlq_resolves_it() {
    let nats = NatsServer::start().expect("nats-server");
    let (url, bodies) = receiver(json!({ "ok": true })).await;
    let monitor = Monitor::start(&nats, &url, "generic", "en").await;

    // 50 dead letters as fast as they can be stored: the monitor evaluates every second,
    // so the burst lands within one round or spreads across a few.
    for i in 0..50 {
        monitor
            .dead_letter(
                Stage::Writer,
                DeadLetterReason::Rejected,
                &format!("burst-{i}"),
            )
            .await;
    }
    wait_until("a firing dead_letters alert", &bodies, |b| {
        count(b, "dead_letters", "firing") > 0
    })
    .await;
    // More letters while it fires, then several more rounds: still the same one alert.
    for i in 0..5 {
        monitor
            .dead_letter(
                Stage::Transformer,
                DeadLetterReason::BadOrder,
                &format!("later-{i}"),
            )
            .await;
    }
    tokio::time::sleep(ROUND * 5).await;
    {
        let received = bodies.lock().expect("lock");
        assert_eq!(
            count(&received, "dead_letters", "firing"),
            1,
            "{received:#?}"
        );
        assert_eq!(count(&received, "dead_letters", "resolved"), 0);
        let firing = received
            .iter()
            .find(|b| b["alert"] == "dead_letters")
            .expect("the alert");
        assert_eq!(firing["severity"], "warning");
        let total = firing["details"]["total"].as_u64().expect("a total");
        assert!((1..=50).contains(&total), "{firing}");
        assert!(
            firing["summary"]
                .as_str()
                .expect("a summary")
                .ends_with("dead letters wait for an operator")
        );
        assert!(firing["details"]["by_reason"]["writer.rejected"].is_u64());
    }

    monitor.clear_dlq().await;
    wait_until("a resolved dead_letters alert", &bodies, |b| {
        count(b, "dead_letters", "resolved") > 0
    })
    .await;
    tokio::time::sleep(ROUND * 3).await;
    {
        let received = bodies.lock().expect("lock");
        assert_eq!(
            count(&received, "dead_letters", "firing"),
            1,
            "{received:#?}"
        );
        assert_eq!(
            count(&received, "dead_letters", "resolved"),
            1,
            "{received:#?}"
        );
        // Nothing else fired: an idle pipeline with no vouchers waiting is healthy.
        assert_eq!(received.len(), 2, "{received:#?}");
        let resolved = &received[1];
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["summary"], "No dead letters wait any more");
        // The resolved message carries the last facts seen while it fired (letters kept
        // arriving after the first message), not the first ones.
        let first = received[0]["details"]["total"].as_u64().expect("a total");
        let last = resolved["details"]["total"].as_u64().expect("a total");
        assert!(first <= last && last <= 55, "{first} then {last}");
        assert_eq!(resolved["since"], received[0]["since"]);
    }
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dingtalk_receives_chinese_markdown_for_firing_and_resolved() {
    let nats = NatsServer::start().expect("nats-server");
    let (url, bodies) = receiver(json!({ "errcode": 0, "errmsg": "ok" })).await;
    let monitor = Monitor::start(&nats, &url, "dingtalk", "zh").await;

    for i in 0..3 {
        monitor
            .dead_letter(
                Stage::Writer,
                DeadLetterReason::Rejected,
                &format!("ding-{i}"),
            )
            .await;
    }
    let title = |b: &Value| {
        b["markdown"]["title"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    wait_until("a DingTalk firing message", &bodies, |b| {
        b.iter().any(|m| title(m) == "jst2tplus [告警] 死信")
    })
    .await;
    monitor.clear_dlq().await;
    wait_until("a DingTalk resolved message", &bodies, |b| {
        b.iter().any(|m| title(m) == "jst2tplus [已恢复] 死信")
    })
    .await;

    let received = bodies.lock().expect("lock").clone();
    assert_eq!(received.len(), 2, "{received:#?}");
    for message in &received {
        assert_eq!(message["msgtype"], "markdown");
        assert_eq!(message.as_object().map(|o| o.len()), Some(2));
    }
    let firing = received[0]["markdown"]["text"].as_str().expect("text");
    assert!(firing.starts_with("### [告警] 死信\n\n**有 "), "{firing}");
    assert!(firing.contains("条死信等待处理**"), "{firing}");
    assert!(firing.contains("- writer.rejected："), "{firing}");
    assert!(firing.contains("jst2tplus dlq replay"), "{firing}");
    let resolved = received[1]["markdown"]["text"].as_str().expect("text");
    assert!(resolved.contains("**死信已处理完毕**"), "{resolved}");
    assert!(resolved.contains("- 持续："), "{resolved}");
    monitor.stop().await;
}

/// What a signing robot received: the query string and the body of each message.
type Signed = Arc<Mutex<Vec<(String, Value)>>>;

/// A robot with a signing secret: keeps every message with its query string and answers
/// `answer`.
async fn signing_receiver(answer: Value) -> (String, Signed) {
    let seen = Signed::default();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State((seen, answer)): State<(Signed, Value)>,
                 axum::extract::RawQuery(query): axum::extract::RawQuery,
                 axum::Json(body): axum::Json<Value>| async move {
                    seen.lock()
                        .expect("lock")
                        .push((query.unwrap_or_default(), body));
                    axum::Json(answer)
                },
            ),
        )
        .with_state((seen.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("receiver address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        format!("http://{addr}/hook?access_token=robot-token-123"),
        seen,
    )
}

/// HMAC-SHA256, base64: what the robots recompute to check a signature.
fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn first_signed(seen: &Signed) -> (String, Value) {
    for _ in 0..120 {
        if let Some(first) = seen.lock().expect("lock").first().cloned() {
            return first;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("no message reached the signing robot");
}

const ROBOT_SECRET: &str = "SECtest0123456789";

#[tokio::test(flavor = "multi_thread")]
async fn a_dingtalk_robot_with_a_signing_secret_gets_a_valid_signature() {
    let nats = NatsServer::start().expect("nats-server");
    let (url, seen) = signing_receiver(json!({ "errcode": 0, "errmsg": "ok" })).await;
    let monitor = Monitor::start_with(
        &nats,
        &url,
        "dingtalk",
        "zh",
        &[("J2T__MONITOR__WEBHOOKS__TEST__SECRET", ROBOT_SECRET)],
    )
    .await;
    monitor
        .dead_letter(Stage::Writer, DeadLetterReason::Rejected, "signed-1")
        .await;
    let (query, body) = first_signed(&seen).await;
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(params["access_token"], "robot-token-123");
    let timestamp = &params["timestamp"];
    let millis: i64 = timestamp.parse().expect("milliseconds");
    assert!((chrono::Utc::now().timestamp_millis() - millis).abs() < 3_600_000);
    let expected = hmac_base64(
        ROBOT_SECRET.as_bytes(),
        format!("{timestamp}\n{ROBOT_SECRET}").as_bytes(),
    );
    assert_eq!(
        params["sign"], expected,
        "the robot would refuse this signature"
    );
    assert!(!query.contains(ROBOT_SECRET) && !body.to_string().contains(ROBOT_SECRET));
    assert_eq!(body["msgtype"], "markdown");
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feishu_robot_gets_a_signed_text_message() {
    let nats = NatsServer::start().expect("nats-server");
    let (url, seen) = signing_receiver(json!({ "code": 0, "msg": "success" })).await;
    let monitor = Monitor::start_with(
        &nats,
        &url,
        "feishu",
        "en",
        &[("J2T__MONITOR__WEBHOOKS__TEST__SECRET", ROBOT_SECRET)],
    )
    .await;
    monitor
        .dead_letter(Stage::Writer, DeadLetterReason::Rejected, "signed-2")
        .await;
    let (query, body) = first_signed(&seen).await;
    assert_eq!(
        query, "access_token=robot-token-123",
        "Feishu signs in the body"
    );
    assert_eq!(body["msg_type"], "text");
    let text = body["content"]["text"].as_str().expect("text");
    assert!(text.contains("Dead letters"), "{text}");
    let timestamp = body["timestamp"].as_str().expect("timestamp");
    let expected = hmac_base64(format!("{timestamp}\n{ROBOT_SECRET}").as_bytes(), b"");
    assert_eq!(
        body["sign"], expected,
        "the robot would refuse this signature"
    );
    assert!(!body.to_string().contains(ROBOT_SECRET));
    monitor.stop().await;
}
