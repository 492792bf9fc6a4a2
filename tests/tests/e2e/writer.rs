//! The writer against a misbehaving T+: every voucher lands exactly once whatever T+ does —
//! 5xx, protective 409s, timeouts after it committed, an expired token, a replica killed
//! mid-batch — and what T+ rejects is dead-lettered and replayable once fixed.

use std::time::Duration;

use j2t_e2e::harness::{Stack, eventually, stream_messages};
use j2t_simulator::TplusFaults;
use j2t_testkit::Service;
use j2t_topology::names;
use jst2tplus::reconcile::{self, QtyBySku};

use crate::support::seed;
use serde_json::{Value, json};

/// Settings every process of a test shares: quick retries, short ack wait.
pub(crate) fn writer_env() -> Vec<(&'static str, String)> {
    vec![
        ("J2T__TPLUS__TIMEOUT_SECS", "1".into()),
        ("J2T__WRITER__RETRY_BASE_SECS", "1".into()),
        ("J2T__WRITER__MAX_RETRY_DELAY_SECS", "2".into()),
        ("J2T__WRITER__MAX_DELIVER", "30".into()),
        ("J2T__WRITER__ACK_WAIT_SECS", "5".into()),
    ]
}

/// Fetcher and transformer for `start_time`, with the writer settings above.
pub(crate) fn upstream(stack: &Stack, start_time: &str) -> Vec<Service> {
    let mut env = writer_env();
    env.push(("J2T__FETCHER__START_TIME", start_time.to_string()));
    env.push(("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()));
    env.push(("J2T__FETCHER__WINDOW_SECS", (7 * 86_400).to_string()));
    // These tests are about the writer: an unknown code must reach it, not be held back.
    env.push(("J2T__TRANSFORMER__CHECK_MASTER_DATA", "false".into()));
    vec![
        stack.spawn("jst2tplus-fetcher", &env),
        stack.spawn("jst2tplus-transformer", &env),
    ]
}

/// Waits until T+ holds exactly the expected sums, then checks nothing more arrives and no
/// ExternalCode is there twice. Returns the vouchers.
pub(crate) async fn assert_written_exactly_once(stack: &Stack, expected: &QtyBySku) -> Vec<Value> {
    let admin = &stack.admin;
    let dtos = eventually(Duration::from_secs(180), "T+ sums to match JST", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(expected, &dtos);
        (!rows.is_empty() && rows.iter().all(|r| r.matches)).then_some(dtos)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = admin.voucher_dtos().await.expect("vouchers");
    assert_eq!(
        settled.len(),
        dtos.len(),
        "vouchers arrived after the sums matched"
    );
    assert!(reconcile::duplicate_codes(&settled).is_empty());
    settled
}

fn answered(stats: &j2t_simulator::Stats, code: &str) -> u64 {
    stats.tplus_requests_by_code.get(code).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn five_hundreds_timeouts_after_commit_and_409s_still_write_each_voucher_once() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 600, 30, 30, &[]).await;
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            http_5xx_probability: 0.2,
            timeout_after_commit_probability: 0.1,
            timeout_after_commit_ms: 1_500,
            throttle_409_probability: 0.05,
            seed: 9,
            ..Default::default()
        })
        .await
        .expect("faults");
    let _upstream = upstream(&stack, &start);
    let _writer = stack.spawn("jst2tplus-writer", &writer_env());
    let vouchers = assert_written_exactly_once(&stack, &expected).await;
    assert!(vouchers.len() >= 50, "{} vouchers", vouchers.len());
    let stats = stack.admin.stats().await.expect("stats");
    println!("T+ answers: {:?}", stats.tplus_requests_by_code);
    assert!(
        stats.tplus_committed_late > 0,
        "timeouts after commit happened"
    );
    assert!(
        stats
            .tplus_requests_by_code
            .keys()
            .any(|k| k.contains("503")),
        "5xx happened"
    );
    assert_eq!(
        stream_messages(&stack.nats_url(), names::DLQ_STREAM).await,
        0,
        "nothing dead-lettered"
    );
}

/// Runs the CLI with the stack's environment; returns stdout (panics on failure).
fn cli(stack: &Stack, args: &[&str]) -> String {
    let output = crate::support::cli_output(stack, &[], args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "jst2tplus {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_sku_is_dead_lettered_and_replayed_once_after_the_fix() {
    let stack = Stack::start().await;
    let day = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    let novel = json!({
        "io_id": 7_000_001, "so_id": "SO-NEW", "o_id": 1, "shop_id": 10001,
        "shop_name": "天猫旗舰店", "is_offline_shop": false, "status": "Confirmed",
        "io_date": format!("{day} 12:00:00"), "modified": format!("{day} 12:00:00"),
        "created": format!("{day} 11:00:00"), "wms_co_id": 1, "remark": "new product",
        "items": [{"ioi_id": 1, "sku_id": "SKU-NEW-001", "name": "新品", "qty": 3,
                   "sale_price": 10.0, "sale_amount": 30.0, "is_gift": false}]
    });
    let (expected, start) = seed(&stack, 60, 2, 2, &[novel]).await;
    let _upstream = upstream(&stack, &start);
    let _writer = stack.spawn("jst2tplus-writer", &writer_env());

    let nats = stack.nats_url();
    eventually(Duration::from_secs(90), "a dead letter", || async {
        (stream_messages(&nats, names::DLQ_STREAM).await > 0).then_some(())
    })
    .await;
    let listed = cli(&stack, &["dlq", "list", "--stage", "writer"]);
    assert!(listed.contains("rejected"), "{listed}");
    assert!(
        listed.contains("SKU-NEW-001"),
        "the reason names the SKU: {listed}"
    );
    // The voucher holding the new SKU is missing; everything else arrived.
    let dtos = stack.admin.voucher_dtos().await.expect("vouchers");
    assert!(
        !reconcile::by_day(&expected, &dtos)
            .iter()
            .all(|r| r.matches)
    );

    stack
        .admin
        .add_inventories(&["SKU-NEW-001"])
        .await
        .expect("master data");
    let dry = cli(&stack, &["dlq", "replay", "--dry-run"]);
    assert!(dry.contains("1 dead letters would be replayed"), "{dry}");
    let replayed = cli(&stack, &["dlq", "replay"]);
    assert!(replayed.contains("1 replayed, 0 failed"), "{replayed}");

    assert_written_exactly_once(&stack, &expected).await;
    let listed = cli(&stack, &["dlq", "list"]);
    assert!(listed.contains("no dead letters"), "{listed}");
    // Replaying again changes nothing: the entry is marked replayed.
    let again = cli(&stack, &["dlq", "replay"]);
    assert!(again.contains("0 replayed"), "{again}");
    let shown = cli(&stack, &["dlq", "list", "--all"]);
    assert!(shown.contains("SKU-NEW-001"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_writers_one_killed_mid_batch_write_each_voucher_once() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 400, 12, 12, &[]).await;
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            latency_ms: 300,
            ..Default::default()
        })
        .await
        .expect("faults");
    let _upstream = upstream(&stack, &start);
    let mut writers: Vec<Service> = (0..3)
        .map(|_| stack.spawn("jst2tplus-writer", &writer_env()))
        .collect();
    let admin = &stack.admin;
    eventually(Duration::from_secs(90), "some vouchers written", || async {
        (admin.voucher_dtos().await.ok()?.len() >= 4).then_some(())
    })
    .await;
    writers[0].kill();
    let vouchers = assert_written_exactly_once(&stack, &expected).await;
    assert!(vouchers.len() >= 20, "{} vouchers", vouchers.len());
    assert_eq!(
        stream_messages(&stack.nats_url(), names::DLQ_STREAM).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_tplus_token_is_refreshed_and_nothing_is_dead_lettered() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 400, 12, 12, &[]).await;
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            latency_ms: 100,
            ..Default::default()
        })
        .await
        .expect("faults");
    let _upstream = upstream(&stack, &start);
    let _writer = stack.spawn("jst2tplus-writer", &writer_env());
    let admin = &stack.admin;
    eventually(Duration::from_secs(90), "some vouchers written", || async {
        (admin.voucher_dtos().await.ok()?.len() >= 3).then_some(())
    })
    .await;
    admin.expire_tplus_token().await.expect("expire");
    assert_written_exactly_once(&stack, &expected).await;
    let stats = admin.stats().await.expect("stats");
    assert_eq!(stats.tplus_token_refreshes, 1, "{stats:?}");
    assert!(answered(&stats, "http401_50000") >= 1, "{stats:?}");
    assert_eq!(
        stream_messages(&stack.nats_url(), names::DLQ_STREAM).await,
        0
    );
}

/// T+'s monthly quota runs out mid-run: the writer holds the vouchers (no delivery used up,
/// nothing dead-lettered), tells the monitor, and writes them all once the quota is back.
#[tokio::test(flavor = "multi_thread")]
async fn an_exhausted_quota_pauses_writes_without_losing_or_dead_lettering() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 200, 6, 6, &[]).await;
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            quota_exhausted: true,
            ..Default::default()
        })
        .await
        .expect("faults");
    let _upstream = upstream(&stack, &start);
    let mut env = writer_env();
    env.push(("J2T__WRITER__QUOTA_PAUSE_SECS", "1".into()));
    // Fewer deliveries than pauses: a pause must not use one up.
    env.push(("J2T__WRITER__MAX_DELIVER", "2".into()));
    let _writer = stack.spawn("jst2tplus-writer", &env);
    let admin = &stack.admin;
    let quota_calls = || async {
        let stats = admin.stats().await.ok()?;
        let refused = answered(&stats, "http401_50112");
        (refused >= 10).then_some(refused)
    };
    eventually(Duration::from_secs(90), "T+ refusing on quota", quota_calls).await;
    assert!(admin.voucher_dtos().await.expect("vouchers").is_empty());
    let js = async_nats::jetstream::new(async_nats::connect(stack.nats_url()).await.expect("nats"));
    let signals = js
        .get_key_value(names::SIGNALS_BUCKET)
        .await
        .expect("bucket")
        .get("signals")
        .await
        .expect("get")
        .expect("the writer recorded a signal");
    let signals: j2t_stores::Signals = serde_json::from_slice(&signals).expect("json");
    assert!(signals.quota_exhausted_at.is_some());

    admin
        .set_tplus_faults(&TplusFaults::default())
        .await
        .expect("quota back");
    assert_written_exactly_once(&stack, &expected).await;
    assert_eq!(
        stream_messages(&stack.nats_url(), names::DLQ_STREAM).await,
        0
    );
}

/// Writer settings for the outage tests: few deliveries with short delays, so that without
/// holding, every voucher would be dead-lettered within seconds of T+ going down; T+ down
/// after 3 failures in a row, one probe a second. Time-scaled: the outage of ~15 s is 15
/// probe intervals, as a 30-minute maintenance is 180 intervals of the default 10 s, and
/// five times max_deliver × backoff (3 deliveries, 1–2 s apart).
const OUTAGE_CONCURRENCY: u64 = 4;
const OUTAGE_QUICK_RETRIES: u64 = 2;
const OUTAGE_AFTER_FAILURES: u64 = 3;

fn outage_env(ack_wait_secs: u64) -> Vec<(&'static str, String)> {
    let mut env = writer_env();
    env.retain(|(k, _)| *k != "J2T__WRITER__MAX_DELIVER" && *k != "J2T__WRITER__ACK_WAIT_SECS");
    env.extend([
        ("J2T__WRITER__MAX_DELIVER", "3".to_string()),
        ("J2T__WRITER__ACK_WAIT_SECS", ack_wait_secs.to_string()),
        ("J2T__WRITER__CONCURRENCY", OUTAGE_CONCURRENCY.to_string()),
        (
            "J2T__WRITER__QUICK_RETRIES",
            OUTAGE_QUICK_RETRIES.to_string(),
        ),
        (
            "J2T__WRITER__OUTAGE_AFTER_FAILURES",
            OUTAGE_AFTER_FAILURES.to_string(),
        ),
        ("J2T__WRITER__OUTAGE_PROBE_SECS", "1".to_string()),
    ]);
    env
}

/// Every result the writer recorded: (ExternalCode, deliveries it took).
async fn results(nats_url: &str) -> Vec<(String, u64)> {
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.expect("nats"));
    let mut stream = js.get_stream(names::RESULTS_STREAM).await.expect("stream");
    let info = stream.info().await.expect("info");
    let mut out = Vec::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if let Ok(message) = stream.get_raw_message(seq).await {
            let result: Value = serde_json::from_slice(&message.payload).expect("result json");
            out.push((
                result["external_code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                result["attempts"].as_u64().expect("attempts"),
            ));
        }
    }
    out
}

/// T+ is down (every Create answers 503) from before the first voucher until well past
/// max_deliver × backoff. The writer holds every voucher, probes with one call at a time,
/// and writes each exactly once when T+ is back: no dead letter, and a bounded number of
/// calls into the outage.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_tplus_outage_holds_vouchers_probes_and_writes_each_once_after() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 200, 6, 6, &[]).await;
    let admin = &stack.admin;
    admin
        .set_tplus_faults(&TplusFaults {
            outage: true,
            ..Default::default()
        })
        .await
        .expect("outage");
    let began = std::time::Instant::now();
    let _upstream = upstream(&stack, &start);
    let mut writer = stack.spawn("jst2tplus-writer", &outage_env(3));
    let port = j2t_e2e::harness::admin_port(&mut writer).await;
    eventually(Duration::from_secs(90), "T+ taken to be down", || async {
        let down = j2t_e2e::harness::metric(port, "j2t_writer_tplus_down").await?;
        let held = j2t_e2e::harness::metric(port, "j2t_writer_held_vouchers").await?;
        (down == 1.0 && held >= 1.0).then_some(())
    })
    .await;
    // The outage lasts 15 probe intervals after the writer noticed it.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let nats = stack.nats_url();
    assert_eq!(stream_messages(&nats, names::DLQ_STREAM).await, 0);
    assert!(admin.voucher_dtos().await.expect("vouchers").is_empty());
    let vouchers_waiting = stream_messages(&nats, names::VOUCHERS_STREAM).await;
    admin
        .set_tplus_faults(&TplusFaults::default())
        .await
        .expect("T+ back");
    let outage = began.elapsed();
    let into_outage = answered(&admin.stats().await.expect("stats"), "http503");

    let vouchers = assert_written_exactly_once(&stack, &expected).await;
    // One probe per interval (1 s) at most, plus what was in flight when T+ was taken to be
    // down: the failures that opened the breaker and each slot's call with its quick retries.
    let bound = outage.as_secs()
        + 1
        + OUTAGE_AFTER_FAILURES
        + OUTAGE_CONCURRENCY * (1 + OUTAGE_QUICK_RETRIES);
    println!(
        "outage {outage:?}: {into_outage} calls into it (bound {bound}), {} vouchers ({vouchers_waiting} waiting when it ended)",
        vouchers.len()
    );
    assert!(into_outage <= bound, "{into_outage} calls > {bound}");
    assert!(vouchers.len() >= 10, "{} vouchers", vouchers.len());
    assert_eq!(stream_messages(&nats, names::DLQ_STREAM).await, 0);
    assert_never_redelivered(&nats).await;
}

/// T+ answers 503 with `Retry-After: 5` for a while. The writer waits for it (one probe per
/// Retry-After, not per probe interval of 1 s), keeps the held messages with in-progress
/// acks (Retry-After is longer than ack_wait, yet no voucher is redelivered), and writes every
/// voucher once afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured_without_losing_the_messages() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 200, 6, 6, &[]).await;
    let admin = &stack.admin;
    admin
        .set_tplus_faults(&TplusFaults {
            outage: true,
            retry_after_secs: Some(5),
            ..Default::default()
        })
        .await
        .expect("outage");
    let began = std::time::Instant::now();
    let _upstream = upstream(&stack, &start);
    let _writer = stack.spawn("jst2tplus-writer", &outage_env(2));
    eventually(
        Duration::from_secs(90),
        "a 503 with Retry-After",
        || async { (answered(&admin.stats().await.ok()?, "http503") > 0).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    admin
        .set_tplus_faults(&TplusFaults::default())
        .await
        .expect("T+ back");
    let window = began.elapsed();
    let into_outage = answered(&admin.stats().await.expect("stats"), "http503");
    assert_written_exactly_once(&stack, &expected).await;
    // A Retry-After opens the breaker at once: each slot's call in flight, then one probe
    // per 5 s (and one at the window's edge).
    let bound = window.as_secs() / 5 + 2 + OUTAGE_CONCURRENCY;
    println!("{window:?} of 503s with Retry-After 5: {into_outage} calls (bound {bound})");
    assert!(into_outage <= bound, "{into_outage} calls > {bound}");
    let nats = stack.nats_url();
    assert_eq!(stream_messages(&nats, names::DLQ_STREAM).await, 0);
    assert_never_redelivered(&nats).await;
}

/// A proxy in front of T+ answers some calls with HTTP 200 and an HTML maintenance page:
/// not counted as written; every voucher ends up in T+ exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn html_200_maintenance_pages_are_not_counted_as_written() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 300, 10, 10, &[]).await;
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            html_200_probability: 0.3,
            seed: 11,
            ..Default::default()
        })
        .await
        .expect("faults");
    let _upstream = upstream(&stack, &start);
    let _writer = stack.spawn("jst2tplus-writer", &writer_env());
    let vouchers = assert_written_exactly_once(&stack, &expected).await;
    let stats = stack.admin.stats().await.expect("stats");
    println!("T+ answers: {:?}", stats.tplus_requests_by_code);
    assert!(answered(&stats, "html200") > 0, "{stats:?}");
    let nats = stack.nats_url();
    assert_eq!(stream_messages(&nats, names::DLQ_STREAM).await, 0);
    // Every voucher written was recorded once, as created (an HTML page is not a success).
    let written = results(&nats).await;
    assert_eq!(written.len(), vouchers.len(), "{written:?}");
}

/// Held, not redelivered: no voucher needed more deliveries than max_deliver (3) allows.
async fn assert_never_redelivered(nats: &str) {
    let written = results(nats).await;
    assert!(
        written.iter().all(|(_, attempts)| *attempts < 3),
        "{written:?}"
    );
}
