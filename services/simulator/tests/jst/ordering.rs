//! Row order and the `start_ts` rowversion cursor.

use serde_json::{Value, json};

use crate::harness::{Sim, code, day_biz, io_ids, order};

async fn ts_of(sim: &Sim, io_id: i64) -> i64 {
    sim.admin
        .orders()
        .await
        .expect("orders")
        .iter()
        .find(|o| o["io_id"] == io_id)
        .and_then(|o| o["ts"].as_i64())
        .expect("order with ts")
}

#[tokio::test]
async fn rows_follow_modified_so_a_modification_during_paging_hides_a_row() {
    let sim = Sim::start().await;
    let orders = [
        order(1, "10:00:00"),
        order(2, "09:00:00"),
        order(3, "09:00:00"),
        order(4, "11:00:00"),
    ];
    sim.admin.add_orders(&orders).await.expect("added");
    assert_eq!(
        io_ids(&sim.query(day_biz(json!({}))).await),
        vec![2, 3, 1, 4]
    );

    let page = |index: i64| day_biz(json!({"page_size": 2, "page_index": index}));
    assert_eq!(io_ids(&sim.query(page(1)).await), vec![2, 3]);
    // Order 2 changes between the pages: it moves to the end, order 1 moves onto page 1.
    sim.admin
        .add_orders(&[order(2, "12:00:00")])
        .await
        .expect("modified");
    assert_eq!(
        io_ids(&sim.query(page(2)).await),
        vec![4, 2],
        "order 1 missed"
    );
}

#[tokio::test]
async fn start_ts_returns_rows_at_or_after_the_cursor_in_ts_order() {
    let sim = Sim::start().await;
    let mut given = vec![
        order(4, "08:00:00"),
        order(3, "09:00:00"),
        order(2, "10:00:00"),
        order(1, "11:00:00"),
    ];
    for o in &mut given {
        o["ts"] = json!(999); // overwritten by the simulator
    }
    sim.admin.add_orders(&given).await.expect("added");
    let ts: Vec<i64> = [
        ts_of(&sim, 4).await,
        ts_of(&sim, 3).await,
        ts_of(&sim, 2).await,
        ts_of(&sim, 1).await,
    ]
    .to_vec();
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "ts increases with every write: {ts:?}"
    );

    let cursor = |start_ts: i64| {
        day_biz(json!({"start_ts": start_ts, "is_get_total": false, "page_size": 2}))
    };
    let first = sim.query(cursor(ts[1])).await;
    assert_eq!(io_ids(&first), vec![3, 2]);
    let data = &first["data"];
    assert_eq!(
        (&data["data_count"], &data["page_count"], &data["has_next"]),
        (&json!(0), &json!(0), &json!(true))
    );
    // `>=`: the row at the cursor comes again.
    let next = sim.query(cursor(ts[2])).await;
    assert_eq!(io_ids(&next), vec![2, 1]);
    let last = sim.query(cursor(ts[3])).await;
    assert_eq!(io_ids(&last), vec![1]);
    assert_eq!(last["data"]["has_next"], false);

    // A modified order gets a new ts and shows up behind the cursor's end.
    sim.admin
        .add_orders(&[order(4, "12:00:00")])
        .await
        .expect("modified");
    assert_eq!(io_ids(&sim.query(cursor(ts[3])).await), vec![1, 4]);
    let with_total = sim.query(day_biz(json!({"start_ts": ts[3]}))).await;
    assert_eq!(
        with_total["data"]["data_count"], 2,
        "is_get_total defaults to true"
    );
}

#[tokio::test]
async fn start_ts_alone_is_refused_with_140() {
    let sim = Sim::start().await;
    let answer: Value = sim
        .query(json!({"start_ts": 1, "is_get_total": false}))
        .await;
    assert_eq!(code(&answer), 140);
    assert!(
        answer["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("参数不符合规范")),
        "{answer}"
    );
}
