//! The operator console in a real browser: headless Chromium opens the page served by
//! `jst2tplus-monitor`, sees a dead-lettered voucher, replays it with a click and sees it
//! written — and T+ holds it exactly once.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use j2t_e2e::harness::{Stack, eventually, stream_messages};
use j2t_simulator::DemoSpec;
use j2t_testkit::Service;
use j2t_topology::names;
use jst2tplus::reconcile;
use serde_json::{Value, json};

use super::cdp::{self, Browser};

/// Generous: the page refreshes every few seconds, the writer retries within seconds.
const LIMIT: Duration = Duration::from_secs(120);

/// A token nobody could guess (std's hasher keys are random per process and instance).
fn random_token() -> String {
    let a = RandomState::new().hash_one(std::process::id());
    let b = RandomState::new().hash_one(a);
    format!("{a:016x}{b:016x}")
}

/// A confirmed order of a product T+ does not know yet: its voucher is rejected.
fn order_of_an_unknown_sku(day: chrono::NaiveDate) -> Value {
    json!({
        "io_id": 7_000_001, "so_id": "SO-NEW", "o_id": 1, "shop_id": 10001,
        "shop_name": "天猫旗舰店", "is_offline_shop": false, "status": "Confirmed",
        "io_date": format!("{day} 12:00:00"), "modified": format!("{day} 12:00:00"),
        "created": format!("{day} 11:00:00"), "wms_co_id": 1, "remark": "new product",
        "items": [{"ioi_id": 1, "sku_id": "SKU-NEW-001", "name": "新品", "qty": 3,
                   "sale_price": 10.0, "sale_amount": 30.0, "is_gift": false}]
    })
}

/// Fetcher, transformer and writer over two days of orders ending the day before yesterday
/// (clear of the fetcher's lag), with quick retries.
async fn pipeline(stack: &Stack) -> Vec<Service> {
    let end = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    let spec = DemoSpec {
        orders: 20,
        days: 2,
        seed: 6,
        end_date: Some(end),
    };
    stack.admin.seed(&spec).await.expect("seeding");
    stack
        .admin
        .add_orders(&[order_of_an_unknown_sku(end)])
        .await
        .expect("the new product's order");
    let start = end - chrono::Duration::days(1);
    let env = [
        ("J2T__FETCHER__START_TIME", format!("{start} 00:00:00")),
        ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
        ("J2T__FETCHER__WINDOW_SECS", (7 * 86_400).to_string()),
        ("J2T__TPLUS__TIMEOUT_SECS", "1".into()),
        ("J2T__WRITER__RETRY_BASE_SECS", "1".into()),
        ("J2T__WRITER__MAX_RETRY_DELAY_SECS", "2".into()),
        ("J2T__WRITER__ACK_WAIT_SECS", "5".into()),
        // A voucher the writer dead-letters: the unknown SKU must reach it, not be held back.
        ("J2T__TRANSFORMER__CHECK_MASTER_DATA", "false".into()),
    ];
    [
        "jst2tplus-fetcher",
        "jst2tplus-transformer",
        "jst2tplus-writer",
    ]
    .iter()
    .map(|bin| stack.spawn(bin, &env))
    .collect()
}

/// `document.querySelector(selector)` as JavaScript, the selector quoted safely.
fn query(selector: &str) -> String {
    format!("document.querySelector({})", json!(selector))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_a_dead_lettered_voucher_and_replays_it_with_a_click() {
    // Before anything slow: without a browser this test fails, it does not skip.
    let chromium = cdp::chromium_bin();
    let stack = Stack::start().await;
    let _pipeline = pipeline(&stack).await;
    let nats = stack.nats_url();
    eventually(LIMIT, "the rejected voucher's dead letter", || async {
        (stream_messages(&nats, names::DLQ_STREAM).await > 0).then_some(())
    })
    .await;
    // The fix an operator would make before replaying: T+ learns the product.
    stack
        .admin
        .add_inventories(&["SKU-NEW-001"])
        .await
        .expect("master data");

    let token = random_token();
    let mut monitor = stack.spawn(
        "jst2tplus-monitor",
        &[
            ("J2T__MONITOR__CONSOLE_LISTEN", "127.0.0.1:0".into()),
            ("J2T__MONITOR__CONSOLE_TOKEN", token.clone()),
        ],
    );
    let console = monitor.listening("console").await.expect("the console");
    let base = format!("http://{console}");

    // The API: the token is required, and the dead letter is there with its voucher.
    let http = reqwest::Client::new();
    let dead_letters = format!("{base}/api/dead-letters");
    let letter = eventually(LIMIT, "the console API to list the dead letter", || async {
        let answer = http
            .get(&dead_letters)
            .bearer_auth(&token)
            .send()
            .await
            .ok()?;
        let rows: Vec<Value> = answer.json().await.ok()?;
        rows.into_iter().next()
    })
    .await;
    let anonymous = http.get(&dead_letters).send().await.expect("answers");
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(letter["stage"], "writer", "{letter}");
    assert_eq!(letter["reason"], "rejected", "{letter}");
    assert!(
        letter["io_ids"]
            .as_array()
            .expect("io_ids")
            .contains(&json!(7_000_001))
    );
    let id = letter["id"].as_u64().expect("id");
    let code = letter["external_code"]
        .as_str()
        .expect("a voucher")
        .to_string();

    let browser = Browser::launch(&chromium).await;
    // A wrong token shows the sign-in form and nothing else.
    browser
        .navigate(&format!("{base}/?token=wrong-{token}"))
        .await;
    eventually(LIMIT, "the page to refuse a wrong token", || async {
        let refused = "!document.getElementById('login').hidden \
                       && document.getElementById('console').hidden \
                       && !document.getElementById('login-error').hidden";
        (browser.eval(refused).await == json!(true)).then_some(())
    })
    .await;

    browser.navigate(&format!("{base}/?token={token}")).await;
    let row = format!(r#"#dead-letters tr[data-dlq-id="{id}"]"#);
    let replay = query(&format!(r#"{row} button[data-action="replay"]"#));
    let written = query(&format!(r#"#vouchers tr[data-code="{code}"]"#));
    eventually(LIMIT, "the page to list the dead letter", || async {
        (browser.eval(&format!("!!{replay}")).await == json!(true)).then_some(())
    })
    .await;
    assert_eq!(
        browser.eval("location.search").await,
        json!(""),
        "the token is taken out of the address bar"
    );
    assert_eq!(
        browser.eval(&format!("!!{written}")).await,
        json!(false),
        "the voucher is not written yet"
    );
    let rejected_at_writer = format!(
        "{}.textContent",
        query("[data-stage=writer] [data-metric=dead] .value")
    );
    assert_eq!(browser.eval(&rejected_at_writer).await, json!("1"));

    // Inspect shows the letter's JSON, naming the product T+ did not know.
    let inspect = query(&format!(r#"{row} button[data-action="inspect"]"#));
    browser.eval(&format!("{inspect}.click()")).await;
    eventually(LIMIT, "the inspect dialog", || async {
        let shown = "document.getElementById('inspect').open \
                     && document.getElementById('inspect-json').textContent.includes('SKU-NEW-001')";
        (browser.eval(shown).await == json!(true)).then_some(())
    })
    .await;
    browser
        .eval("document.getElementById('inspect-close').click()")
        .await;

    let before = stack.admin.voucher_dtos().await.expect("vouchers");
    assert!(!before.iter().any(|d| d["ExternalCode"] == code.as_str()));
    // The click: a real DOM event on the real page, which calls the replay API.
    browser.eval(&format!("{replay}.click()")).await;
    let outcome = eventually(LIMIT, "the page to list the voucher as written", || async {
        let outcome = browser
            .eval(&format!("{written}?.dataset.outcome ?? null"))
            .await;
        outcome.as_str().map(str::to_string)
    })
    .await;
    assert_eq!(outcome, "created");
    assert_eq!(
        browser
            .eval(&format!("{}.dataset.state", query("#dlq-message")))
            .await,
        json!("ok")
    );
    eventually(
        LIMIT,
        "the dead letter to leave the pending list",
        || async {
            let gone = format!(
                "!{} && !document.getElementById('dlq-empty').hidden",
                query(&row)
            );
            (browser.eval(&gone).await == json!(true)).then_some(())
        },
    )
    .await;

    // T+ holds the voucher exactly once, and nothing twice.
    let dtos = stack.admin.voucher_dtos().await.expect("vouchers");
    let copies = dtos
        .iter()
        .filter(|d| d["ExternalCode"] == code.as_str())
        .count();
    assert_eq!(copies, 1, "{code} in T+");
    assert!(reconcile::duplicate_codes(&dtos).is_empty());

    // And the API's whereis agrees: the new product's order is in that voucher, written.
    let whereis = format!("{base}/api/whereis/7000001");
    let found = eventually(LIMIT, "whereis to report the order written", || async {
        let answer = http.get(&whereis).bearer_auth(&token).send().await.ok()?;
        let found: Value = answer.json().await.ok()?;
        (found["voucher_state"]["state"] == "created").then_some(found)
    })
    .await;
    assert_eq!(found["voucher"]["external_code"], code.as_str(), "{found}");
}
