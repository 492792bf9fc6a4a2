//! Late commits and orders changed after shipping, through the admin API: queries see them
//! as the real JST would (visibility, status filter, date_type, ts).

use chrono::{Duration, Utc};
use j2t_simulator::OrderChange;
use serde_json::{Value, json};

use crate::harness::{Sim, day_biz, io_ids, order};

/// The test day on io_date (date_type 2), plus `extra`.
fn ship_day(extra: Value) -> Value {
    let mut biz = day_biz(json!({"date_type": 2}));
    if let (Some(biz), Some(extra)) = (biz.as_object_mut(), extra.as_object()) {
        biz.extend(extra.clone());
    }
    biz
}

async fn stored(sim: &Sim, io_id: i64) -> Option<Value> {
    sim.admin
        .orders()
        .await
        .expect("orders")
        .into_iter()
        .find(|o| o["io_id"] == io_id)
}

#[tokio::test]
async fn a_late_order_is_invisible_until_its_instant_then_written_with_that_modified() {
    let sim = Sim::start().await;
    sim.admin
        .add_orders(&[order(1, "09:00:00")])
        .await
        .expect("added");
    let future = Utc::now() + Duration::hours(1);
    let held = sim
        .admin
        .add_orders_visible_at(&[order(2, "10:00:00")], future)
        .await
        .expect("held");
    assert_eq!(held, 1);
    assert_eq!(io_ids(&sim.query(ship_day(json!({}))).await), vec![1]);
    assert!(
        stored(&sim, 2).await.is_none(),
        "the admin list shows only visible orders"
    );
    assert_eq!(sim.stats().await.jst_pending_orders, 1);

    // Committed 3 minutes ago, shipped on the test day: released by the next read.
    let past = Utc::now() - Duration::minutes(3);
    sim.admin
        .add_orders_visible_at(&[order(3, "10:00:00")], past)
        .await
        .expect("held");
    let ts_before = stored(&sim, 1).await.expect("order 1")["ts"].as_i64();
    let by_io_date = sim.query(ship_day(json!({}))).await;
    assert_eq!(
        io_ids(&by_io_date),
        vec![1, 3],
        "seen on its ship day (date_type 2)"
    );
    let late = stored(&sim, 3).await.expect("visible now");
    let offset = Duration::minutes(sim.cfg.jst.utc_offset_minutes.into());
    let expected = (past + offset)
        .naive_utc()
        .format(j2t_domain::JST_TIME_FORMAT)
        .to_string();
    assert_eq!(late["modified"], expected, "modified = the commit instant");
    assert_eq!(late["io_date"], "2020-01-10 10:00:00");
    assert!(late["ts"].as_i64() > ts_before, "a fresh ts");
    assert_eq!(
        io_ids(&sim.query(day_biz(json!({}))).await),
        vec![1],
        "not in its ship day on modified (date_type 0)"
    );
    let stats = sim.stats().await;
    assert_eq!((stats.orders, stats.jst_pending_orders), (2, 1));
}

#[tokio::test]
async fn late_orders_need_exactly_one_instant() {
    let sim = Sim::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}{}", sim.base, j2t_simulator::LATE_ORDERS_PATH))
        .json(&json!({"orders": [order(1, "09:00:00")]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("visible_at")),
        "{body}"
    );
}

#[tokio::test]
async fn a_status_move_follows_the_status_filter_and_is_seen_again_by_modified_and_ts() {
    let sim = Sim::start().await;
    sim.admin
        .add_orders(&[order(1, "09:00:00"), order(2, "10:00:00")])
        .await
        .expect("added");
    let confirmed = ship_day(json!({"status": "Confirmed"}));
    let archived = ship_day(json!({"status": "Archive"}));
    assert_eq!(io_ids(&sim.query(confirmed.clone()).await), vec![1, 2]);
    let max_ts = stored(&sim, 2).await.expect("2")["ts"]
        .as_i64()
        .expect("ts");

    let moved = sim
        .admin
        .set_order_status(1, "Archive")
        .await
        .expect("changed")
        .expect("order 1 exists");
    assert_eq!(moved["status"], "Archive");
    assert_eq!(io_ids(&sim.query(confirmed).await), vec![2]);
    assert_eq!(io_ids(&sim.query(archived).await), vec![1]);
    assert_eq!(
        io_ids(&sim.query(day_biz(json!({}))).await),
        vec![2],
        "modified moved to now: gone from its ship day on date_type 0"
    );
    let now_window = json!({
        "modified_begin": (Utc::now() - Duration::days(1)).format(j2t_domain::JST_TIME_FORMAT).to_string(),
        "modified_end": (Utc::now() + Duration::days(1)).format(j2t_domain::JST_TIME_FORMAT).to_string(),
        "date_type": 0,
    });
    assert_eq!(
        io_ids(&sim.query(now_window).await),
        vec![1],
        "a modified scan finds it"
    );
    let again = ship_day(json!({"start_ts": max_ts + 1, "is_get_total": false}));
    assert_eq!(
        io_ids(&sim.query(again).await),
        vec![1],
        "start_ts sees it again"
    );

    let cancelled = sim
        .admin
        .cancel_order(2)
        .await
        .expect("changed")
        .expect("2");
    assert_eq!(cancelled["status"], "Cancelled");
    assert_eq!(
        io_ids(&sim.query(ship_day(json!({"status": "Cancelled"}))).await),
        vec![2]
    );
}

#[tokio::test]
async fn lines_can_be_edited_after_shipping_and_bad_changes_are_refused() {
    let sim = Sim::start().await;
    sim.admin
        .add_orders(&[order(1, "09:00:00")])
        .await
        .expect("added");
    let edited = sim
        .admin
        .set_order_qty(1, "SKU", 3)
        .await
        .expect("changed")
        .expect("1");
    assert_eq!(edited["items"][0]["qty"], 3);
    let rows = sim.query(ship_day(json!({}))).await;
    assert_eq!(
        rows["data"]["datas"][0]["items"][0]["qty"], 3,
        "queries show the edit"
    );

    let change = OrderChange {
        items: Some(vec![json!({"ioi_id": 11, "sku_id": "OTHER", "qty": 2})]),
        modified: Some("2020-01-11 08:00:00".into()),
        ..OrderChange::default()
    };
    let replaced = sim
        .admin
        .change_order(1, &change)
        .await
        .expect("ok")
        .expect("1");
    assert_eq!(
        (&replaced["items"][0]["sku_id"], &replaced["modified"]),
        (&json!("OTHER"), &json!("2020-01-11 08:00:00"))
    );

    assert_eq!(
        sim.admin.cancel_order(99).await.expect("answered"),
        None,
        "404: no order"
    );
    let error = sim
        .admin
        .set_order_qty(1, "SKU", 1)
        .await
        .expect_err("no SKU line any more");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(
        stored(&sim, 1).await.expect("1")["items"][0]["sku_id"],
        "OTHER",
        "a refused change leaves the order as it was"
    );
}
