use std::time::Duration;

use chrono::NaiveDate;
use j2t_domain::{DeadLetter, Stage};
use j2t_simulator::{DemoSpec, demo_orders};
use j2t_topology::names;
use jst2tplus::reconcile;
use serde_json::{Value, json};

use j2t_e2e::harness::{Stack, eventually};

async fn dead_letter(js: &async_nats::jetstream::Context, subject: &str) -> Option<DeadLetter> {
    let stream = js.get_stream(names::DLQ_STREAM).await.ok()?;
    let msg = stream.get_last_raw_message_by_subject(subject).await.ok()?;
    serde_json::from_slice(&msg.payload).ok()
}

/// An order the mapping cannot read stops at the transformer, a voucher T+ rejects stops at
/// the writer; both land in the dead-letter stream with their reason and payload, and every
/// other order still reaches T+ with exact sums.
#[tokio::test(flavor = "multi_thread")]
async fn bad_data_is_dead_lettered_and_the_rest_flows() {
    let stack = Stack::start().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    let mut orders = demo_orders(
        &DemoSpec {
            orders: 30,
            days: 1,
            seed: 9,
            end_date: Some(day),
        },
        480,
    );
    for order in &mut orders {
        order["status"] = json!("Confirmed");
    }
    // Unreadable quantity: the transformer rejects the whole order.
    let unreadable = orders[0]["io_id"].as_i64().expect("io_id");
    orders[0]["items"][0]["qty"] = json!("many");
    // Zero quantity, alone in its warehouse: T+ rejects the voucher.
    let zero = orders[1]["io_id"].as_i64().expect("io_id");
    orders[1]["wms_co_id"] = json!(99);
    for item in orders[1]["items"].as_array_mut().expect("items") {
        item["qty"] = json!(0);
    }
    stack.admin.add_orders(&orders).await.expect("seeding");
    // T+ knows the warehouse: the voucher reaches the writer and T+ refuses its quantities.
    stack
        .admin
        .add_warehouses(&["99"])
        .await
        .expect("master data");
    let good: Vec<Value> = orders[1..].to_vec();
    let expected = reconcile::expected(&good, "Confirmed");

    let start_time = format!("{day} 00:00:00");
    let _fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[("J2T__FETCHER__START_TIME", start_time)],
    );
    let _transformer = stack.spawn("jst2tplus-transformer", &[]);
    let _writer = stack.spawn("jst2tplus-writer", &[]);

    let js = async_nats::jetstream::new(async_nats::connect(stack.nats_url()).await.expect("nats"));
    let transformer_letter = eventually(
        Duration::from_secs(60),
        "the transformer's dead letter",
        || dead_letter(&js, "j2t.dlq.transformer.bad_order"),
    )
    .await;
    assert_eq!(transformer_letter.stage, Stage::Transformer);
    assert_eq!(transformer_letter.payload["io_id"], json!(unreadable));
    assert!(
        transformer_letter.error.contains("qty"),
        "{}",
        transformer_letter.error
    );

    let writer_letter = eventually(Duration::from_secs(60), "the writer's dead letter", || {
        dead_letter(&js, "j2t.dlq.writer.rejected")
    })
    .await;
    assert_eq!(writer_letter.stage, Stage::Writer);
    assert_eq!(writer_letter.payload["io_ids"], json!([zero]));
    assert!(
        writer_letter.error.contains("数量"),
        "{}",
        writer_letter.error
    );
    assert_eq!(writer_letter.original_subject, names::VOUCHERS_SUBJECT);

    let admin = &stack.admin;
    eventually(Duration::from_secs(60), "the good orders in T+", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        reconcile::by_day(&expected, &dtos)
            .iter()
            .all(|r| r.matches)
            .then_some(())
    })
    .await;
    let dtos = admin.voucher_dtos().await.expect("vouchers");
    assert!(!dtos.is_empty());
    assert!(dtos.iter().all(|d| d["Warehouse"]["Code"] != "99"));
}
