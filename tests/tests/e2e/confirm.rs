//! The writer confirms uncertain writes by looking the ExternalCode up in T+: with a
//! duplicate reply the config does not recognise and timeouts after commit, every voucher is
//! in T+ exactly once and nothing is dead-lettered. A recognised refusal (a closed
//! accounting period) is dead-lettered with its own reason, without a lookup.

use std::time::Duration;

use j2t_domain::{DeadLetterReason, Stage};
use j2t_e2e::harness::{Stack, admin_port, eventually, metric, stream_messages};
use j2t_simulator::TplusFaults;
use j2t_topology::names;
use jst2tplus::reconcile;
use serde_json::{Value, json};

use crate::support::seed;
use crate::writer::{assert_written_exactly_once, upstream, writer_env};

/// Sum of a counter over the given label values (absent series count 0).
async fn counter_sum(port: u16, name: &str, label: &str, values: &[&str]) -> f64 {
    let mut sum = 0.0;
    for value in values {
        sum += metric(port, &format!("{name}{{{label}=\"{value}\"}}"))
            .await
            .unwrap_or(0.0);
    }
    sum
}

/// What a failure message shows of the dead letters: subject and error.
async fn shown(nats_url: &str) -> Vec<(String, String)> {
    dead_letters(nats_url)
        .await
        .into_iter()
        .map(|(subject, letter)| (subject, letter["error"].as_str().unwrap_or_default().into()))
        .collect()
}

/// Every dead letter: (subject, entry); none before the services created the stream.
async fn dead_letters(nats_url: &str) -> Vec<(String, Value)> {
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.expect("nats"));
    let mut out = Vec::new();
    let Ok(mut stream) = js.get_stream(names::DLQ_STREAM).await else {
        return out;
    };
    let info = stream.info().await.expect("info");
    if info.state.messages == 0 {
        return out;
    }
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if let Ok(message) = stream.get_raw_message(seq).await {
            let letter: Value = serde_json::from_slice(&message.payload).expect("letter json");
            out.push((message.subject.to_string(), letter));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unrecognised_duplicate_reply_and_timeouts_after_commit_are_confirmed_by_lookup() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 400, 20, 31, &[]).await;
    // A duplicate ExternalCode answered in a shape `tplus.duplicate_*` does not match: the
    // fast path never fires, so only the lookup can tell that T+ has the voucher.
    stack
        .admin
        .set_duplicate_reply(
            400,
            json!({"errcode": "E_DUP", "errmsg": "ExternalCode has been used"}),
        )
        .await
        .expect("duplicate reply");
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            timeout_after_commit_probability: 0.3,
            timeout_after_commit_ms: 1_500,
            seed: 12,
            ..Default::default()
        })
        .await
        .expect("faults");
    let _upstream = upstream(&stack, &start);
    let mut writer = stack.spawn("jst2tplus-writer", &writer_env());
    let port = admin_port(&mut writer).await;

    let vouchers = assert_written_exactly_once(&stack, &expected).await;
    let stats = stack.admin.stats().await.expect("stats");
    println!("T+ answers: {:?}", stats.tplus_requests_by_code);
    assert!(
        stats.tplus_committed_late > 0,
        "timeouts after commit happened"
    );
    assert_eq!(
        stream_messages(&stack.nats_url(), names::DLQ_STREAM).await,
        0,
        "nothing dead-lettered: {:?}",
        shown(&stack.nats_url()).await
    );
    let vouchers_total = "j2t_writer_vouchers_total";
    let confirmed = metric(port, &format!("{vouchers_total}{{outcome=\"confirmed\"}}"))
        .await
        .unwrap_or(0.0);
    let written = counter_sum(
        port,
        vouchers_total,
        "outcome",
        &["created", "already_exists", "confirmed"],
    )
    .await;
    // Each timeout after commit left a voucher in T+ that only a lookup can confirm.
    assert!(confirmed > 0.0, "the lookup path was taken");
    assert_eq!(
        metric(
            port,
            &format!("{vouchers_total}{{outcome=\"already_exists\"}}")
        )
        .await,
        None,
        "the unrecognised duplicate reply never matched the duplicate rule"
    );
    assert_eq!(written as usize, vouchers.len(), "every voucher acked once");
    let lookups = counter_sum(
        port,
        "j2t_writer_lookups_total",
        "result",
        &["found", "missing", "failed"],
    )
    .await;
    let calls = counter_sum(
        port,
        "j2t_tplus_lookup_calls_total",
        "kind",
        &["incremental", "rescan", "filter"],
    )
    .await;
    println!(
        "{} vouchers, {confirmed} confirmed, {lookups} lookups, {calls} FindVoucherList calls",
        vouchers.len()
    );
    assert!(
        lookups >= confirmed,
        "{lookups} lookups, {confirmed} confirmed"
    );
    // Incremental: a lookup reads the last page or two, never the whole list again.
    let pages = vouchers.len().div_ceil(100) as f64;
    assert!(
        calls <= 2.0 * lookups + pages,
        "{calls} calls for {lookups} lookups over {} vouchers",
        vouchers.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voucher_dated_into_a_closed_period_is_dead_lettered_as_period_closed() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 90, 3, 5, &[]).await;
    let first_day = chrono::NaiveDate::parse_from_str(&start[..10], "%Y-%m-%d").expect("date");
    // The first of the three days is in a closed period (the simulator's default refusal:
    // 400 {"code":"999","message":"单据日期[…]所在会计期间已结账"}).
    stack
        .admin
        .close_period(first_day, None)
        .await
        .expect("close period");
    let _upstream = upstream(&stack, &start);
    let mut writer = stack.spawn("jst2tplus-writer", &writer_env());
    let port = admin_port(&mut writer).await;

    let closed = first_day.to_string();
    let nats = stack.nats_url();
    let admin = &stack.admin;
    // The open days arrive in full; the closed day's vouchers are dead letters.
    let letters = eventually(
        Duration::from_secs(180),
        "open days written, the closed day dead-lettered",
        || async {
            let dtos = admin.voucher_dtos().await.ok()?;
            let rows = reconcile::by_day(&expected, &dtos);
            let open_days_match = rows.iter().filter(|r| r.date != closed).all(|r| r.matches);
            let letters = dead_letters(&nats).await;
            (open_days_match && rows.len() == 3 && !letters.is_empty()).then_some(letters)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let letters = {
        let settled = dead_letters(&nats).await;
        assert!(settled.len() >= letters.len());
        settled
    };
    let subject = names::dlq_subject(Stage::Writer, DeadLetterReason::PeriodClosed);
    for (letter_subject, letter) in &letters {
        assert_eq!(letter_subject, &subject, "{letter}");
        assert_eq!(letter["reason"], "period_closed", "{letter}");
        assert!(
            letter["error"]
                .as_str()
                .unwrap_or_default()
                .contains("已结账"),
            "{letter}"
        );
        assert_eq!(
            letter["payload"]["payload"]["dto"]["VoucherDate"], closed,
            "{letter}"
        );
        // Dead-lettered at once: a recognised refusal is not retried.
        assert_eq!(letter["attempts"], 1, "{letter}");
    }
    let dtos = admin.voucher_dtos().await.expect("vouchers");
    assert!(
        dtos.iter().all(|d| d["VoucherDate"] != closed.as_str()),
        "nothing of the closed day is in T+"
    );
    // Every voucher built was written or dead-lettered, once.
    assert_eq!(
        stream_messages(&nats, names::VOUCHERS_STREAM).await,
        (dtos.len() + letters.len()) as u64
    );
    // A recognised refusal is not looked up.
    let lookups = counter_sum(
        port,
        "j2t_writer_lookups_total",
        "result",
        &["found", "missing", "failed"],
    )
    .await;
    assert_eq!(lookups, 0.0, "no lookup for a recognised refusal");
    let listed = crate::support::cli(&stack, &[], &["dlq", "list", "--stage", "writer"]).1;
    assert!(listed.contains("period_closed"), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_audit_on_every_voucher_is_audited_once_even_after_timeouts() {
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 120, 6, 8, &[]).await;
    stack
        .admin
        .set_tplus_faults(&TplusFaults {
            timeout_after_commit_probability: 0.3,
            timeout_after_commit_ms: 1_500,
            seed: 4,
            ..Default::default()
        })
        .await
        .expect("faults");
    let _upstream = upstream(&stack, &start);
    let mut env = writer_env();
    env.push(("J2T__WRITER__AUDIT", "true".into()));
    let mut writer = stack.spawn("jst2tplus-writer", &env);
    let port = admin_port(&mut writer).await;

    let vouchers = assert_written_exactly_once(&stack, &expected).await;
    let admin = &stack.admin;
    let stored = eventually(Duration::from_secs(60), "every voucher audited", || async {
        let stored = admin.tplus_vouchers().await.ok()?;
        stored
            .iter()
            .all(|v| v["audited"] == true)
            .then_some(stored)
    })
    .await;
    assert_eq!(stored.len(), vouchers.len());
    assert!(
        admin.stats().await.expect("stats").tplus_committed_late > 0,
        "timeouts after commit happened"
    );
    let audited = metric(port, r#"j2t_writer_audits_total{result="audited"}"#).await;
    assert_eq!(audited, Some(vouchers.len() as f64));
    assert_eq!(
        stream_messages(&stack.nats_url(), names::DLQ_STREAM).await,
        0,
        "no audit failed: {:?}",
        shown(&stack.nats_url()).await
    );
}
