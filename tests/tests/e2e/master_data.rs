//! The master-data check: an order naming a SKU T+ lacks is held back by the transformer,
//! alone, while the rest of its day is written; replayed too early it is held again; once T+
//! has the SKU, replaying the dead letter writes the held orders as one more voucher.

use std::time::Duration;

use j2t_domain::{DeadLetter, DeadLetterReason, Stage};
use j2t_simulator::{DemoSpec, demo_orders};
use j2t_topology::names;
use jst2tplus::reconcile;
use serde_json::{Value, json};

use crate::support::cli;
use j2t_e2e::harness::{Stack, eventually, stream_messages};

const LIMIT: Duration = Duration::from_secs(120);
const NEW_SKU: &str = "SKU-NOT-IN-TPLUS";

/// Every dead letter stored so far, oldest first.
async fn dead_letters(js: &async_nats::jetstream::Context) -> Vec<DeadLetter> {
    let mut letters = Vec::new();
    let Ok(stream) = js.get_stream(names::DLQ_STREAM).await else {
        return letters;
    };
    for seq in 1.. {
        match stream.get_raw_message(seq).await {
            Ok(msg) => letters.extend(serde_json::from_slice(&msg.payload).ok()),
            Err(_) => break,
        }
    }
    letters
}

/// Waits until T+ holds exactly `expected` per (date, SKU); returns the vouchers.
async fn books_match(stack: &Stack, expected: &reconcile::QtyBySku, what: &str) -> Vec<Value> {
    let admin = &stack.admin;
    eventually(LIMIT, what, || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(expected, &dtos);
        (!rows.is_empty() && rows.iter().all(|r| r.matches)).then_some(dtos)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn one_unknown_sku_among_200_orders_holds_only_its_orders_and_replays_as_one_voucher() {
    let stack = Stack::start().await;
    let day = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    let mut orders = demo_orders(
        &DemoSpec {
            orders: 200,
            days: 1,
            seed: 12,
            end_date: Some(day),
        },
        480,
    );
    for order in &mut orders {
        order["status"] = json!("Confirmed");
        order["wms_co_id"] = json!(1);
    }
    // Two orders of the day (one warehouse) also ship a product T+ does not know yet.
    let novel: Vec<i64> = [17, 133]
        .iter()
        .map(|&i| {
            orders[i]["items"]
                .as_array_mut()
                .expect("items")
                .push(json!({
                    "ioi_id": 99, "sku_id": NEW_SKU, "name": "新品", "qty": 3,
                    "sale_price": 10.0, "sale_amount": 30.0, "is_gift": false
                }));
            orders[i]["io_id"].as_i64().expect("io_id")
        })
        .collect();
    stack.admin.add_orders(&orders).await.expect("seeding");
    let expected = reconcile::expected(&orders, "Confirmed");
    let others: Vec<Value> = orders
        .iter()
        .filter(|o| !novel.contains(&o["io_id"].as_i64().unwrap_or_default()))
        .cloned()
        .collect();
    let expected_others = reconcile::expected(&others, "Confirmed");

    let env = [
        ("J2T__FETCHER__START_TIME", format!("{day} 00:00:00")),
        // Re-read T+'s master data on every miss: the replay right after the SKU is created
        // must see it.
        (
            "J2T__TRANSFORMER__MASTER_DATA_MISS_REFRESH_SECS",
            "0".to_string(),
        ),
    ];
    let _services: Vec<_> = [
        "jst2tplus-fetcher",
        "jst2tplus-transformer",
        "jst2tplus-writer",
    ]
    .iter()
    .map(|bin| stack.spawn(bin, &env))
    .collect();

    // The other 198 orders of the day are in T+ while the dead letter is still pending.
    let js = async_nats::jetstream::new(async_nats::connect(stack.nats_url()).await.expect("nats"));
    let before = books_match(
        &stack,
        &expected_others,
        "the day without the held orders in T+",
    )
    .await;
    assert_eq!(before.len(), 1, "the rest of the day is one voucher");
    let letters = dead_letters(&js).await;
    assert_eq!(letters.len(), 1, "one dead letter: {letters:#?}");
    let letter = &letters[0];
    assert_eq!(
        (letter.stage, letter.reason),
        (Stage::Transformer, DeadLetterReason::UnknownInventory)
    );
    assert_eq!(letter.payload["code"], json!(NEW_SKU));
    assert_eq!(letter.payload["io_ids"], json!(novel));
    for needle in [
        NEW_SKU.to_string(),
        novel[0].to_string(),
        novel[1].to_string(),
    ] {
        assert!(
            letter.error.contains(&needle),
            "{needle} in {}",
            letter.error
        );
    }
    let (ok, listed) = cli(&stack, &[], &["dlq", "list"]);
    assert!(ok && listed.contains("unknown_inventory"), "{listed}");
    let (ok, whereis) = cli(&stack, &[], &["whereis", &novel[0].to_string()]);
    assert!(ok && whereis.contains("unknown_inventory"), "{whereis}");

    // Replayed before T+ has the product: the orders are simply held again, in a new letter
    // (from the replay window), and nothing reaches T+.
    let (ok, replayed) = cli(&stack, &[], &["dlq", "replay"]);
    assert!(
        ok && replayed.contains("1 replayed, 0 failed"),
        "{replayed}"
    );
    let again = eventually(LIMIT, "the orders held again", || async {
        let letters = dead_letters(&js).await;
        (letters.len() == 2).then(|| letters[1].clone())
    })
    .await;
    assert_eq!(again.reason, DeadLetterReason::UnknownInventory);
    assert_eq!(again.payload["io_ids"], json!(novel));
    assert_ne!(again.original_subject, letter.original_subject);
    assert_eq!(
        stack.admin.voucher_dtos().await.expect("vouchers").len(),
        before.len()
    );

    // T+ learns the product; the held orders become one more voucher, and the books match.
    stack
        .admin
        .add_inventories(&[NEW_SKU])
        .await
        .expect("master data");
    let (ok, replayed) = cli(&stack, &[], &["dlq", "replay"]);
    assert!(
        ok && replayed.contains("1 replayed, 0 failed"),
        "{replayed}"
    );
    let after = books_match(&stack, &expected, "every order of the day in T+").await;
    assert_eq!(after.len(), before.len() + 1, "one more voucher");
    assert!(reconcile::duplicate_codes(&after).is_empty());
    let added = after
        .iter()
        .find(|d| {
            !before
                .iter()
                .any(|b| b["ExternalCode"] == d["ExternalCode"])
        })
        .expect("the new voucher");
    let skus: Vec<&str> = added["RDRecordDetails"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["Inventory"]["Code"].as_str())
        .collect();
    assert!(skus.contains(&NEW_SKU), "{skus:?}");
    // Not held a third time, nothing else dead-lettered: the transformer stores a window's
    // dead letters before its vouchers, so any would be there by now.
    assert_eq!(
        stream_messages(&stack.nats_url(), names::DLQ_STREAM).await,
        2
    );
}
