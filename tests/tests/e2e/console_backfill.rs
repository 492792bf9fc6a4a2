//! A task that starts days behind: the console (API and page, in headless Chromium) and the
//! monitor's gauges show how many requests and how long its catch-up needs and how far it
//! is, from what the real fetcher records in the cursor; then "live" once it is caught up.
//! The simulator enforces JST's real rate limits, and the fetcher keeps to them, so the
//! catch-up lasts long enough to be seen (no assertion on how long anything takes).

use std::time::Duration;

use j2t_e2e::harness::{Stack, admin_port, eventually, metric};
use j2t_simulator::DemoSpec;
use serde_json::{Value, json};

use super::cdp::{self, Browser};

/// Generous: the catch-up makes about a hundred requests at JST's real rate.
const LIMIT: Duration = Duration::from_secs(300);

const TOKEN: &str = "backfill-console-test-token";

/// The `default` task's row of `/api/status`, once it has one.
async fn task_status(http: &reqwest::Client, base: &str) -> Option<Value> {
    let status: Value = http
        .get(format!("{base}/api/status"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    status["cursors"]
        .as_array()?
        .iter()
        .find(|c| c["task"] == "default")
        .cloned()
}

/// `data-*` of the page's catch-up cell for the default task, or null.
const CELL: &str = "(() => { const c = document.querySelector('#cursors tr[data-task=\"default\"] \
                    td[data-backfill]'); return c ? {state: c.dataset.backfill, \
                    remaining: c.dataset.remainingRequests ?? null, text: c.textContent} : null; })()";

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_how_long_a_task_far_behind_needs_to_catch_up() {
    // Before anything slow: without a browser this test fails, it does not skip.
    let chromium = cdp::chromium_bin();
    let stack = Stack::start().await;
    let days = 5;
    stack
        .admin
        .seed(&DemoSpec {
            orders: 600,
            days,
            seed: 15,
            end_date: None,
        })
        .await
        .expect("seeding");

    // The console is open before the fetcher starts, so the page sees the catch-up.
    let mut monitor = stack.spawn(
        "jst2tplus-monitor",
        &[
            ("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".into()),
            ("J2T__MONITOR__CONSOLE_TOKEN", TOKEN.into()),
            ("J2T__MONITOR__EVALUATE_EVERY_SECS", "1".into()),
        ],
    );
    let base = format!(
        "http://{}",
        monitor.listening("console").await.expect("the console")
    );
    let monitor_admin = admin_port(&mut monitor).await;
    let browser = Browser::launch(&chromium).await;
    browser.navigate(&format!("{base}/?token={TOKEN}")).await;

    let first_day = j2t_simulator::jst_today(480) - chrono::Duration::days(i64::from(days));
    let mut fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", format!("{first_day} 00:00:00")),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
            ("J2T__FETCHER__LAG_SECS", "1".into()),
            // Daily windows of small pages: an estimate after each of six windows.
            ("J2T__FETCHER__WINDOW_SECS", "86400".into()),
            ("J2T__FETCHER__PAGE_SIZE", "10".into()),
        ],
    );
    let fetcher_admin = admin_port(&mut fetcher).await;

    // The API: an estimate of what is left, and what was done since the catch-up began.
    let http = reqwest::Client::new();
    let behind = eventually(LIMIT, "the API to show a catch-up estimate", || async {
        let task = task_status(&http, &base).await?;
        let b = &task["backfill"];
        (b["live"] == false && b["remaining_requests"].as_u64()? > 0 && b["windows"].as_u64()? > 0)
            .then_some(task)
    })
    .await;
    let b = &behind["backfill"];
    assert_eq!(b["from"], format!("{first_day} 00:00:00"), "{behind}");
    assert!(b["remaining_secs"].as_u64() > Some(0), "{behind}");
    assert!(b["requests"].as_u64() > Some(0), "{behind}");
    let percent = b["percent_done"].as_f64().expect("a percentage");
    assert!(percent > 0.0 && percent < 100.0, "{behind}");

    // The page says so in words, with the requests left.
    let cell = eventually(LIMIT, "the page to show the catch-up", || async {
        let cell = browser.eval(CELL).await;
        (cell["state"] == "catching-up").then_some(cell)
    })
    .await;
    let remaining: u64 = cell["remaining"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("requests left");
    assert!(remaining > 0, "{cell}");
    let text = cell["text"].as_str().expect("text");
    assert!(
        text.contains(&remaining.to_string()) && text.contains('%'),
        "{text}"
    );

    // The monitor's gauges, from the same record.
    eventually(LIMIT, "the monitor's catch-up gauge", || async {
        let left = metric(
            monitor_admin,
            "j2t_sync_backfill_remaining_requests{task=\"default\"}",
        )
        .await?;
        (left > 0.0).then_some(())
    })
    .await;

    // Caught up: live everywhere, nothing left.
    let live = eventually(LIMIT, "the API to show the task live", || async {
        let task = task_status(&http, &base).await?;
        (task["backfill"]["live"] == true).then_some(task)
    })
    .await;
    let b = &live["backfill"];
    assert_eq!(b["remaining_requests"], 0, "{live}");
    assert_eq!(b["percent_done"], 100.0, "{live}");
    eventually(LIMIT, "the page to show the task live", || async {
        (browser.eval(CELL).await["state"] == json!("live")).then_some(())
    })
    .await;
    eventually(LIMIT, "the gauges to say caught up", || async {
        let done = metric(
            monitor_admin,
            "j2t_sync_backfill_done_ratio{task=\"default\"}",
        )
        .await?;
        let left = metric(
            fetcher_admin,
            "j2t_fetcher_backfill_remaining_requests{task=\"default\"}",
        )
        .await?;
        (done == 1.0 && left == 0.0).then_some(())
    })
    .await;
}
