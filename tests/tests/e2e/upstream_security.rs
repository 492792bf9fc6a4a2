//! The API clients' safety: a T+ base URL that redirects elsewhere never hands the secret
//! headers to that host; credentials an operator rotates replace the pair stored in NATS;
//! a setup mixing the simulator with a real API refuses to start.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use j2t_e2e::harness::{Stack, eventually};
use j2t_testkit::Service;
use j2t_topology::names;
use j2t_upstream::books_guard::{SIMULATOR_HEADER, SIMULATOR_MARK, SIMULATOR_MARKER_PATH};

use crate::support::{cli, seed};
use crate::writer::{assert_written_exactly_once, upstream, writer_env};

/// The headers in which T+ credentials travel.
const SECRET_HEADERS: [&str; 3] = ["appkey", "appsecret", "opentoken"];

/// Serves `app` on 127.0.0.1, port 0; returns its port.
async fn serve(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// A host that records the headers of every request it gets.
async fn receiver() -> (u16, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Router::new().fallback(move |request: Request| {
        let record = record.clone();
        async move {
            if let Ok(mut seen) = record.lock() {
                let mut headers = request.headers().clone();
                if let Ok(path) = request.uri().to_string().parse() {
                    headers.insert("x-test-path", path);
                }
                seen.push(headers);
            }
            StatusCode::OK
        }
    });
    (serve(app).await, seen)
}

/// A front for T+ that answers the simulator's marker (it stands for a proxy before the
/// simulator) and redirects every API call to `target` (another host: `localhost`, not
/// `127.0.0.1`) with 307, which keeps method and body.
async fn redirector(target: String) -> u16 {
    let app = Router::new()
        .route(
            SIMULATOR_MARKER_PATH,
            axum::routing::get(|| async { ([(SIMULATOR_HEADER, SIMULATOR_MARK)], "marker") }),
        )
        .fallback(move |request: Request| {
            let location = format!("{target}{}", request.uri());
            async move {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response()
            }
        });
    serve(app).await
}

/// A host that is not the simulator: it answers everything, without the mark.
async fn real_host() -> String {
    let app = Router::new().fallback(|| async { "not the simulator" });
    format!("http://127.0.0.1:{}", serve(app).await)
}

fn log_of(dir: &std::path::Path, bin: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{bin}.log"))).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirecting_tplus_never_gets_the_secrets_to_the_other_host() {
    let logs = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start_with(&[], Some(logs.path())).await;
    let (_, start) = seed(&stack, 20, 2, 71, &[]).await;
    let (receiver_port, seen) = receiver().await;
    let front = redirector(format!("http://localhost:{receiver_port}")).await;
    let _upstream = upstream(&stack, &start);
    let mut env = writer_env();
    env.push(("J2T__TPLUS__BASE_URL", format!("http://127.0.0.1:{front}")));
    let _writer = stack.spawn("jst2tplus-writer", &env);

    let started = std::time::Instant::now();
    let line = loop {
        let log = log_of(logs.path(), "jst2tplus-writer");
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("redirect (HTTP 307) to host `localhost`"))
        {
            break line.to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the writer never reported the redirect; its log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(line.contains("tplus.base_url"), "{line}");
    for secret in ["demo-tplus-app-secret", "demo-tplus-open-token"] {
        assert!(
            !log_of(logs.path(), "jst2tplus-writer").contains(secret),
            "the writer logged {secret}"
        );
    }
    let seen = seen.lock().expect("receiver").clone();
    for headers in &seen {
        for name in SECRET_HEADERS {
            assert!(
                !headers.contains_key(name),
                "the other host received the {name} header"
            );
        }
    }
    assert!(seen.is_empty(), "the redirect was followed: {seen:?}");
    let vouchers = stack.admin.tplus_vouchers().await.expect("vouchers");
    assert!(
        vouchers.is_empty(),
        "nothing reached T+ through the redirect"
    );
}

/// The T+ pair stored in NATS (`access_token`, `configured` fingerprint).
async fn stored_tplus_pair(stack: &Stack) -> Option<serde_json::Value> {
    let client = async_nats::connect(stack.nats_url()).await.ok()?;
    let kv = async_nats::jetstream::new(client)
        .get_key_value(names::TOKENS_BUCKET)
        .await
        .ok()?;
    let bytes = kv
        .get(names::tplus_tokens_key("demo-tplus-app-key"))
        .await
        .ok()??;
    serde_json::from_slice(&bytes).ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_token_pair_replaces_the_stored_one_after_a_restart() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 30, 2, 72, &[]).await;

    // The first configuration's pair is refreshed once: NATS holds its successor.
    stack.admin.expire_tplus_token().await.expect("expire");
    let mut first = stack.spawn("jst2tplus-transformer", &[]);
    let refreshed = eventually(
        Duration::from_secs(60),
        "a refreshed T+ pair in NATS",
        || async { stored_tplus_pair(&stack).await },
    )
    .await;
    first.kill();
    let old_configured =
        j2t_upstream::Tokens::new("demo-tplus-open-token", "demo-tplus-refresh-token");
    assert_eq!(
        refreshed["configured"].as_str(),
        Some(old_configured.fingerprint().as_str())
    );
    assert_ne!(refreshed["access_token"], "demo-tplus-open-token");

    // The operator re-authorises the app: T+ now knows only the new pair, which goes into
    // the configuration; the stored pair and its refresh token are dead.
    let (open, refresh) = ("rotated-open-token", "rotated-refresh-token");
    stack
        .admin
        .set_tplus_tokens(open, refresh)
        .await
        .expect("new pair");
    let rotated = [
        ("J2T__TPLUS__OPEN_TOKEN", open.to_string()),
        ("J2T__TPLUS__REFRESH_TOKEN", refresh.to_string()),
    ];
    let refused_before = refused_calls(&stack).await;
    let mut processes: Vec<Service> = Vec::new();
    let mut env = writer_env();
    env.extend(rotated.iter().cloned());
    env.push(("J2T__FETCHER__START_TIME", start.clone()));
    env.push(("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()));
    env.push(("J2T__FETCHER__WINDOW_SECS", (7 * 86_400).to_string()));
    for bin in [
        "jst2tplus-fetcher",
        "jst2tplus-transformer",
        "jst2tplus-writer",
    ] {
        processes.push(stack.spawn(bin, &env));
    }
    assert_written_exactly_once(&stack, &expected).await;
    let stored = stored_tplus_pair(&stack).await.expect("stored pair");
    assert_eq!(stored["access_token"], open, "the rotated pair is stored");
    assert_eq!(
        stored["configured"].as_str(),
        Some(
            j2t_upstream::Tokens::new(open, refresh)
                .fingerprint()
                .as_str()
        )
    );
    // The rotated pair is used from the first call on: no call was refused since.
    assert_eq!(refused_calls(&stack).await, refused_before);
}

/// T+ calls the simulator refused for their credentials (HTTP 401 or 403) so far.
async fn refused_calls(stack: &Stack) -> u64 {
    let stats = stack.admin.stats().await.expect("stats");
    stats
        .tplus_requests_by_code
        .iter()
        .filter(|(code, _)| code.starts_with("http401") || code.starts_with("http403"))
        .map(|(_, n)| n)
        .sum()
}

/// Waits for `service` to exit on its own; returns whether it failed.
async fn exits_failing(service: &mut Service) -> bool {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = service.exited() {
            return !status.success();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} is still running",
            service.name
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_setup_refuses_to_start_and_says_why() {
    let logs = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start_with(&[], Some(logs.path())).await;
    let real = real_host().await;

    // T+ at a real host while JST is the simulator: the writer never starts.
    let mut writer = stack.spawn(
        "jst2tplus-writer",
        &[
            ("J2T__TPLUS__BASE_URL", real.clone()),
            ("J2T__TPLUS__APP_KEY", "a-real-app".into()),
        ],
    );
    assert!(exits_failing(&mut writer).await, "the writer must fail");
    let log = log_of(logs.path(), "jst2tplus-writer");
    assert!(log.contains("mixed setup refused"), "{log}");
    assert!(log.contains("JST is the simulator"), "{log}");
    assert!(log.contains("T+ is a real host"), "{log}");

    // The demo credentials sent to a host that is not the simulator.
    let mut fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__JST__BASE_URL", real.clone()),
            ("J2T__TPLUS__BASE_URL", real.clone()),
        ],
    );
    assert!(exits_failing(&mut fetcher).await, "the fetcher must fail");
    let log = log_of(logs.path(), "jst2tplus-fetcher");
    assert!(log.contains("demo credentials"), "{log}");

    // The CLI command that calls both APIs says the same.
    let (ok, text) = cli(
        &stack,
        &[
            ("J2T__TPLUS__BASE_URL", real.as_str()),
            ("J2T__TPLUS__APP_KEY", "a-real-app"),
        ],
        &["reconcile", "--from", "2026-01-01", "--to", "2026-01-02"],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("mixed setup refused"), "{text}");
}
