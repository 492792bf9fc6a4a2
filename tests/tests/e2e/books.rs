//! The monitor's daily reconcile against the simulator: after a normal sync one voucher is
//! deleted in T+; a monitor whose daily time has passed runs the reconcile at start, alerts
//! "books differ" naming that voucher, and the console's Books panel shows its date red with
//! the difference on click (headless Chromium).

use std::time::Duration;

use j2t_e2e::harness::{Stack, eventually};
use jst2tplus::reconcile;
use serde_json::{Value, json};

use super::cdp::{self, Browser};
use super::support::seed;
use j2t_e2e::harness::{admin_port, metric};

const LIMIT: Duration = Duration::from_secs(180);

type Bodies = j2t_testkit::WebhookBodies;

/// A webhook receiver on 127.0.0.1 keeping every body.
async fn receiver() -> (String, Bodies) {
    j2t_testkit::webhook_receiver(json!({"ok": true})).await
}

fn query(selector: &str) -> String {
    format!("document.querySelector({})", json!(selector))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_reconcile_alerts_a_deleted_voucher_and_the_console_shows_its_day_red() {
    let chromium = cdp::chromium_bin();
    let stack = Stack::start().await;
    let (expected, start) = seed(&stack, 40, 2, 12, &[]).await;
    let env = [
        ("J2T__FETCHER__START_TIME", start),
        ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
    ];
    let _pipeline: Vec<_> = [
        "jst2tplus-fetcher",
        "jst2tplus-transformer",
        "jst2tplus-writer",
    ]
    .iter()
    .map(|bin| stack.spawn(bin, &env))
    .collect();
    let admin = &stack.admin;
    let dtos = eventually(LIMIT, "T+ sums to match JST", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(&expected, &dtos);
        (rows.len() == 2 && rows.iter().all(|r| r.matches)).then_some(dtos)
    })
    .await;
    // A voucher removed in T+ after it was written.
    let gone = dtos[0]["ExternalCode"]
        .as_str()
        .expect("a code")
        .to_string();
    let gone_date = dtos[0]["VoucherDate"].as_str().expect("a date")[..10].to_string();
    assert!(admin.delete_tplus_voucher(&gone).await.expect("deleted"));

    let (hook, bodies) = receiver().await;
    let token = format!("books-{}", std::process::id());
    let mut monitor = stack.spawn(
        "jst2tplus-monitor",
        &[
            ("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".into()),
            ("J2T__MONITOR__CONSOLE_TOKEN", token.clone()),
            ("J2T__MONITOR__EVALUATE_EVERY_SECS", "1".into()),
            ("J2T__MONITOR__LANGUAGE", "en".into()),
            // Due at once: 00:00 JST has passed whenever the test runs.
            ("J2T__MONITOR__RECONCILE_ENABLED", "true".into()),
            ("J2T__MONITOR__RECONCILE_AT", "00:00".into()),
            ("J2T__MONITOR__RECONCILE_DAYS", "3".into()),
            ("J2T__MONITOR__WEBHOOKS__OPS__URL", hook),
            ("J2T__MONITOR__WEBHOOKS__OPS__FORMAT", "generic".into()),
        ],
    );
    let console = monitor.listening("console").await.expect("the console");
    let base = format!("http://{console}");

    // The alert names the deleted voucher among the explanations of its worst rows.
    let alert = eventually(LIMIT, "a books_differ alert", || async {
        let bodies = bodies.lock().expect("lock");
        bodies
            .iter()
            .find(|b| b["alert"] == "books_differ" && b["status"] == "firing")
            .cloned()
    })
    .await;
    let worst = alert["details"]["worst"].as_array().expect("worst rows");
    assert!(!worst.is_empty(), "{alert}");
    assert!(
        worst.iter().all(|d| d["date"] == gone_date.as_str()),
        "only {gone_date} lost a voucher: {alert}"
    );
    let named = worst
        .iter()
        .flat_map(|d| d["explanations"].as_array().cloned().unwrap_or_default());
    let named: Vec<Value> = named.collect();
    assert!(
        named.iter().any(
            |e| e["voucher"] == gone.as_str() && e["whereabouts"]["kind"] == "missing_in_tplus"
        ),
        "{alert}"
    );
    let digest = eventually(LIMIT, "the daily digest", || async {
        let bodies = bodies.lock().expect("lock");
        bodies.iter().find(|b| b["status"] == "digest").cloned()
    })
    .await;
    assert_eq!(digest["details"]["books"]["state"], "differ", "{digest}");

    // The result as metrics, without SKU or warehouse labels.
    let port = admin_port(&mut monitor).await;
    // Exported from the bucket on the monitor's next round, absent until then; the run's
    // gauges are set before the last run's (`export`'s order).
    let ok = eventually(LIMIT, "the reconcile gauges", || async {
        metric(port, "j2t_reconcile_last_run_ok").await
    })
    .await;
    assert_eq!(ok, 1.0);
    assert_eq!(metric(port, "j2t_reconcile_books_equal").await, Some(0.0));
    let rows = metric(port, "j2t_reconcile_differing_rows").await;
    assert!(rows.is_some_and(|n| n >= worst.len() as f64), "{rows:?}");
    assert_eq!(
        metric(port, "j2t_reconcile_runs_total{result=\"differ\"}").await,
        Some(1.0)
    );

    // The panel's API: that date red, the others of the run green.
    let http = reqwest::Client::new();
    let panel: Value = http
        .get(format!("{base}/api/reconcile"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let dates = panel["dates"].as_array().expect("dates");
    assert_eq!(dates.len(), 3, "{panel}");
    for date in dates {
        let red = date["date"] == gone_date.as_str();
        assert_eq!(
            date["state"],
            if red { "differ" } else { "equal" },
            "{panel}"
        );
    }

    // In the browser: the red date, and its differences on click.
    let browser = Browser::launch(&chromium).await;
    browser.navigate(&format!("{base}/?token={token}")).await;
    let cell = query(&format!(r#"#books-dates button[data-date="{gone_date}"]"#));
    eventually(LIMIT, "the Books panel to show the date red", || async {
        let state = browser
            .eval(&format!("{cell}?.dataset.state ?? null"))
            .await;
        (state == json!("differ")).then_some(())
    })
    .await;
    assert_eq!(
        browser
            .eval(&format!(
                "getComputedStyle({cell}).backgroundColor === getComputedStyle({}).backgroundColor",
                query(r#"#books-dates button[data-state="equal"]"#)
            ))
            .await,
        json!(false),
        "red and green look different"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('books-detail').hidden")
            .await,
        json!(true)
    );
    browser.eval(&format!("{cell}.click()")).await;
    let text = eventually(LIMIT, "the date's differences", || async {
        let shown = browser
            .eval(
                "(() => { const d = document.getElementById('books-detail'); \
                 return d.hidden ? null : d.textContent; })()",
            )
            .await;
        shown.as_str().map(str::to_string)
    })
    .await;
    assert!(text.contains(&gone), "{text}");
    assert!(
        text.contains("its voucher is not in T+") || text.contains("所在凭证在 T+ 中不存在"),
        "{text}"
    );
    let rows = browser
        .eval("document.querySelectorAll('#books-differences tbody tr').length")
        .await;
    assert!(rows.as_u64().is_some_and(|n| n >= 1), "{rows}");
}
