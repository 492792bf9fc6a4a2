//! Orders JST changes after their voucher was written (issue 13, point 3): the fetcher's
//! change scan finds them, the transformer's corrections measure the difference against the
//! lines recorded at the write, and `corrections.policy` decides: `report` (an alert naming
//! the order, a dead letter `whereis` shows) or `reverse` (one correction voucher per change,
//! never two, also when the fetcher dies between detecting a change and publishing it).

use std::time::Duration;

use j2t_e2e::harness::{Stack, eventually};
use j2t_simulator::{DemoSpec, demo_orders};
use jst2tplus::reconcile;
use serde_json::{Value, json};

use super::support::cli;

const LIMIT: Duration = Duration::from_secs(120);

type Bodies = j2t_testkit::WebhookBodies;

/// A webhook receiver on 127.0.0.1 keeping every body.
async fn receiver() -> (String, Bodies) {
    j2t_testkit::webhook_receiver(json!({"ok": true})).await
}

/// Seeds one day of shipped orders two days back; returns the day and the order that will
/// change (its io_id and the SKU of its first line).
async fn seed(stack: &Stack, seed: u64) -> (String, i64, String) {
    let day = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    let mut orders = demo_orders(
        &DemoSpec {
            orders: 12,
            days: 1,
            seed,
            end_date: Some(day),
        },
        480,
    );
    for order in &mut orders {
        order["status"] = json!("Confirmed");
    }
    stack.admin.add_orders(&orders).await.expect("seeding");
    let io_id = orders[0]["io_id"].as_i64().expect("io_id");
    let sku = orders[0]["items"][0]["sku_id"]
        .as_str()
        .expect("sku")
        .to_string();
    (format!("{day} 00:00:00"), io_id, sku)
}

/// The fetcher's environment: the change scan every second, right up to now.
fn fetcher_env(start: &str) -> Vec<(&'static str, String)> {
    vec![
        ("J2T__FETCHER__START_TIME", start.to_string()),
        ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
        ("J2T__FETCHER__LAG_SECS", "1".into()),
        ("J2T__CORRECTIONS__SCAN_EVERY_SECS", "1".into()),
    ]
}

/// T+'s sums (returns negative) equal JST's shipped orders now, per day and SKU.
async fn books_match(stack: &Stack, what: &str) -> Vec<Value> {
    let admin = &stack.admin;
    eventually(LIMIT, what, || async {
        let orders = admin.orders().await.ok()?;
        let expected = reconcile::expected(&orders, "Confirmed");
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(&expected, &dtos);
        (!rows.is_empty() && rows.iter().all(|r| r.matches)).then_some(dtos)
    })
    .await
}

fn corrections(dtos: &[Value]) -> Vec<&Value> {
    dtos.iter()
        .filter(|d| {
            d["ExternalCode"]
                .as_str()
                .is_some_and(|c| c.starts_with("JC"))
        })
        .collect()
}

fn qty_in_tplus(dtos: &[Value], sku: &str) -> f64 {
    reconcile::actual(dtos)
        .iter()
        .filter(|((_, s), _)| s == sku)
        .map(|(_, q)| q)
        .sum()
}

/// `report`: a cancelled order is named by an alert and by `whereis`, T+ is left alone;
/// replaying the dead letter once the policy is `reverse` (here with the red-voucher
/// convention, which this T+ is set to accept) corrects T+ with one voucher.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_order_is_reported_then_reversed_by_replaying_its_letter() {
    let stack = Stack::start().await;
    let (start, io_id, sku) = seed(&stack, 31).await;
    let _fetcher = stack.spawn("jst2tplus-fetcher", &fetcher_env(&start));
    let mut transformer = stack.spawn("jst2tplus-transformer", &[]);
    let _writer = stack.spawn("jst2tplus-writer", &[]);
    let (hook, bodies) = receiver().await;
    let _monitor = stack.spawn(
        "jst2tplus-monitor",
        &[
            ("J2T__MONITOR__EVALUATE_EVERY_SECS", "1".into()),
            ("J2T__MONITOR__LANGUAGE", "en".into()),
            ("J2T__MONITOR__WEBHOOKS__OPS__URL", hook),
            ("J2T__MONITOR__WEBHOOKS__OPS__FORMAT", "generic".into()),
        ],
    );
    let written = books_match(&stack, "the day written to T+").await;
    let voucher = written
        .iter()
        .find(|d| {
            d["RDRecordDetails"]
                .as_array()
                .is_some_and(|l| l.iter().any(|l| l["Inventory"]["Code"] == sku.as_str()))
        })
        .and_then(|d| d["ExternalCode"].as_str())
        .expect("a voucher with the SKU")
        .to_string();
    let before = qty_in_tplus(&written, &sku);

    stack
        .admin
        .cancel_order(io_id)
        .await
        .expect("cancel")
        .expect("the order exists");

    let alert = eventually(LIMIT, "a changed_after_write alert", || async {
        let bodies = bodies.lock().expect("lock");
        bodies
            .iter()
            .find(|b| {
                b["alert"] == format!("changed_after_write.{io_id}").as_str()
                    && b["status"] == "firing"
            })
            .cloned()
    })
    .await;
    assert_eq!(alert["details"]["io_id"], json!(io_id), "{alert}");
    let change = alert["details"]["change"].as_str().unwrap_or_default();
    assert!(
        change.contains(&format!("{sku} qty")) && change.contains("→ 0"),
        "{alert}"
    );
    let summary = alert["summary"].as_str().unwrap_or_default();
    assert!(summary.contains(&io_id.to_string()), "{alert}");

    let (ok, whereis) = cli(&stack, &[], &["whereis", &io_id.to_string()]);
    assert!(ok, "{whereis}");
    for needle in ["changed", "reported", "changed_after_write", "Cancelled"] {
        assert!(whereis.contains(needle), "{needle} in {whereis}");
    }
    // Report leaves T+ as written.
    let dtos = stack.admin.voucher_dtos().await.expect("vouchers");
    assert!(corrections(&dtos).is_empty());
    assert_eq!(qty_in_tplus(&dtos, &sku), before);
    assert!(dtos.iter().any(|d| d["ExternalCode"] == voucher.as_str()));

    // The user's T+ books red vouchers: the policy turns to reverse, the letter is replayed.
    let mapping = j2t_mapping::DEFAULT_MAPPING_TOML.replace(
        "busi_type = \"14\"\nnegative_quantities = false",
        "busi_type = \"13\"\nnegative_quantities = true",
    );
    assert_ne!(mapping, j2t_mapping::DEFAULT_MAPPING_TOML);
    let dir = tempfile::tempdir().expect("temp dir");
    let mapping_file = dir.path().join("mapping.toml");
    std::fs::write(&mapping_file, mapping).expect("mapping file");
    stack
        .admin
        .set_tplus_faults(&j2t_simulator::TplusFaults {
            negative_quantities: true,
            ..Default::default()
        })
        .await
        .expect("knob");
    transformer.kill();
    let _transformer = stack.spawn(
        "jst2tplus-transformer",
        &[
            ("J2T__CORRECTIONS__POLICY", "reverse".into()),
            (
                "J2T__TRANSFORMER__MAPPING_FILE",
                mapping_file.display().to_string(),
            ),
        ],
    );
    let (ok, replayed) = cli(&stack, &[], &["dlq", "replay"]);
    assert!(ok && replayed.contains("1 replayed"), "{replayed}");
    let dtos = books_match(&stack, "T+ corrected to JST's new totals").await;
    let fixes = corrections(&dtos);
    assert_eq!(fixes.len(), 1, "one correction voucher: {fixes:?}");
    assert_eq!(fixes[0]["BusiType"]["Code"], "13");
    assert!(
        fixes[0]["RDRecordDetails"]
            .as_array()
            .expect("lines")
            .iter()
            .all(|l| l["BaseQuantity"].as_f64().is_some_and(|q| q < 0.0)),
        "a red voucher: {}",
        fixes[0]
    );
    let (ok, whereis) = cli(&stack, &[], &["whereis", &io_id.to_string()]);
    assert!(ok && whereis.contains("corrected by JC"), "{whereis}");
    eventually(LIMIT, "the alert resolved", || async {
        let bodies = bodies.lock().expect("lock");
        bodies
            .iter()
            .any(|b| {
                b["alert"] == format!("changed_after_write.{io_id}").as_str()
                    && b["status"] == "resolved"
            })
            .then_some(())
    })
    .await;
}

/// `reverse`: an order edited twice gets one correction per edit (a return for the first,
/// an outbound for the second), none twice — though the fetcher aborts (a test hook)
/// between detecting the first change and publishing it, and a new fetcher detects it again.
#[tokio::test(flavor = "multi_thread")]
async fn an_order_edited_twice_is_corrected_once_per_edit_across_a_fetcher_crash() {
    let stack = Stack::start().await;
    let (start, io_id, sku) = seed(&stack, 32).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let hook = dir.path().join("abort-once");
    let mut env = fetcher_env(&start);
    env.push((
        "J2T_TEST_ABORT_AFTER_CHANGE_DETECTED",
        hook.display().to_string(),
    ));
    let mut fetcher = stack.spawn("jst2tplus-fetcher", &env);
    let reverse = [("J2T__CORRECTIONS__POLICY", "reverse".to_string())];
    let _transformer = stack.spawn("jst2tplus-transformer", &reverse);
    let _writer = stack.spawn("jst2tplus-writer", &[]);
    let written = books_match(&stack, "the day written to T+").await;
    let before = qty_in_tplus(&written, &sku);
    let order = stack
        .admin
        .orders()
        .await
        .expect("orders")
        .into_iter()
        .find(|o| o["io_id"] == io_id)
        .expect("the order");
    let qty: i64 = order["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["sku_id"] == sku.as_str())
        .map(|i| i["qty"].as_i64().unwrap_or(0))
        .sum();

    // First edit: one fewer. The fetcher detects it and aborts before publishing.
    std::fs::write(&hook, b"once").expect("arm the hook");
    stack
        .admin
        .set_order_qty(io_id, &sku, qty - 1)
        .await
        .expect("edit")
        .expect("the order");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = fetcher.exited() {
            break status;
        }
        assert!(
            started.elapsed() < LIMIT,
            "the fetcher never aborted after detecting"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(!status.success(), "aborted: {status:?}");
    assert!(!hook.exists(), "the hook fired");
    assert!(
        corrections(&stack.admin.voucher_dtos().await.expect("vouchers")).is_empty(),
        "nothing was published before the abort"
    );
    let _fetcher = stack.spawn("jst2tplus-fetcher", &env);
    let dtos = books_match(&stack, "T+ corrected after the first edit").await;
    assert_eq!(corrections(&dtos).len(), 1);
    assert_eq!(qty_in_tplus(&dtos, &sku), before - 1.0);
    assert_eq!(corrections(&dtos)[0]["BusiType"]["Code"], "14", "a return");

    // Second edit: three more than at first.
    stack
        .admin
        .set_order_qty(io_id, &sku, qty + 2)
        .await
        .expect("edit")
        .expect("the order");
    let dtos = books_match(&stack, "T+ corrected after the second edit").await;
    let fixes = corrections(&dtos);
    assert_eq!(fixes.len(), 2, "one correction per edit: {fixes:?}");
    assert_eq!(fixes[1]["BusiType"]["Code"], "13", "more shipped");
    assert_eq!(qty_in_tplus(&dtos, &sku), before + 2.0);
    assert!(reconcile::duplicate_codes(&dtos).is_empty());

    // Scans go on; nothing more is corrected.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let dtos = stack.admin.voucher_dtos().await.expect("vouchers");
    assert_eq!(corrections(&dtos).len(), 2);
    let (ok, whereis) = cli(&stack, &[], &["whereis", &io_id.to_string()]);
    assert!(ok, "{whereis}");
    assert_eq!(whereis.matches("corrected by JC").count(), 2, "{whereis}");
    let stats = stack.admin.stats().await.expect("stats");
    assert!(
        stats.jst_rate_violations.values().all(|n| *n == 0),
        "{stats:?}"
    );
}
