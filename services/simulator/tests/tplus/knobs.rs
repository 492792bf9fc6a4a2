//! Admin knobs over HTTP: deleting a voucher, the duplicate reply, a closed period, and the
//! shape of FindVoucherList's answer.

use chrono::NaiveDate;
use j2t_simulator::{ListShape, Reply, VoucherListKnobs};
use j2t_tplus::FIND_VOUCHER_LIST_PATH;
use serde_json::json;

use crate::harness::{Sim, by_code, demo_dto};

#[tokio::test]
async fn a_deleted_voucher_is_gone_and_its_external_code_free_again() {
    let sim = Sim::start().await;
    for code in ["E-1", "E-2", "E-3"] {
        assert!(sim.create(&demo_dto(code)).await.is_success());
    }
    assert!(
        sim.admin
            .delete_tplus_voucher("E-2")
            .await
            .expect("deleted")
    );
    assert!(
        !sim.admin
            .delete_tplus_voucher("E-2")
            .await
            .expect("answered")
    );
    assert_eq!(sim.external_codes().await, ["E-1", "E-3"]);
    let rows = sim.list(0, 10).await.body["data"].clone();
    assert_eq!(
        rows.as_array()
            .expect("rows")
            .iter()
            .map(|r| r["id"].as_u64().expect("id"))
            .collect::<Vec<_>>(),
        [1, 3]
    );
    // Written again, it is a new voucher with a new id at the end of the list.
    assert!(sim.create(&demo_dto("E-2")).await.is_success());
    let rows = sim.list(0, 10).await.body["data"].clone();
    assert_eq!(rows[2]["externalcode"], "E-2");
    assert_eq!(rows[2]["id"], 4);
    assert_eq!(sim.stats().await.vouchers, 3);
}

#[tokio::test]
async fn the_duplicate_reply_can_be_any_status_and_body() {
    let sim = Sim::start().await;
    assert!(sim.create(&demo_dto("E-1")).await.is_success());
    let default = sim.create(&demo_dto("E-1")).await;
    assert_eq!((default.status, default.code()), (400, "999"));
    assert_eq!(default.message(), "外部单据号[E-1]已存在");

    let odd = json!({"errcode": 7, "errmsg": "duplicated"});
    sim.admin
        .set_duplicate_reply(500, odd.clone())
        .await
        .expect("set");
    let changed = sim.create(&demo_dto("E-1")).await;
    assert_eq!((changed.status, changed.body.clone()), (500, odd));
    // A new ExternalCode is still stored.
    assert!(sim.create(&demo_dto("E-2")).await.is_success());
    sim.admin.reset_duplicate_reply().await.expect("reset");
    assert_eq!(
        sim.create(&demo_dto("E-1")).await.message(),
        "外部单据号[E-1]已存在"
    );
    assert_eq!(sim.external_codes().await, ["E-1", "E-2"]);
    assert_eq!(by_code(&sim.stats().await, "http500"), 1);
}

#[tokio::test]
async fn a_closed_period_refuses_vouchers_dated_on_or_before_it() {
    let sim = Sim::start().await;
    let dated = |code: &str, date: &str| {
        let mut dto = demo_dto(code);
        dto["VoucherDate"] = json!(date);
        dto
    };
    let through = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    sim.admin.close_period(through, None).await.expect("closed");
    let refused = sim.create(&dated("E-1", "2026-11-20")).await;
    assert_eq!((refused.status, refused.code()), (400, "999"));
    assert_eq!(refused.message(), "单据日期[2026-11-20]所在会计期间已结账");
    assert!(sim.create(&dated("E-2", "2026-11-21")).await.is_success());

    let custom = Reply {
        status: 400,
        body: json!({"code": "1031", "message": "期间已关闭"}),
    };
    sim.admin
        .close_period(through, Some(custom))
        .await
        .expect("closed");
    let refused = sim.create(&dated("E-1", "2026-10-01")).await;
    assert_eq!((refused.status, refused.code()), (400, "1031"));
    sim.admin.open_periods().await.expect("opened");
    assert!(sim.create(&dated("E-1", "2026-11-20")).await.is_success());
    assert_eq!(sim.external_codes().await, ["E-2", "E-1"]);
}

#[tokio::test]
async fn the_voucher_list_shape_order_and_filter_are_knobs() {
    let sim = Sim::start().await;
    for code in ["E-1", "E-2", "E-3"] {
        assert!(sim.create(&demo_dto(code)).await.is_success());
    }
    sim.admin
        .set_voucher_list(&VoucherListKnobs {
            shape: ListShape::Object,
            rows_key: "rows".into(),
            newest_first: true,
            external_code_filter_key: None,
        })
        .await
        .expect("set");
    let page = sim.list(0, 2).await;
    assert_eq!(page.body["data"]["total"], 2);
    let rows = page.body["data"]["rows"].as_array().expect("rows").clone();
    assert_eq!(
        (
            rows[0]["externalcode"].clone(),
            rows[1]["externalcode"].clone()
        ),
        (json!("E-3"), json!("E-2"))
    );

    sim.admin
        .set_voucher_list(&VoucherListKnobs {
            external_code_filter_key: Some("ExternalCode".into()),
            ..Default::default()
        })
        .await
        .expect("set");
    let filtered = sim
        .read(
            FIND_VOUCHER_LIST_PATH,
            &json!({"pageIndex": 0, "pageSize": 10, "paramDic": {"ExternalCode": "E-2"}}),
        )
        .await;
    assert_eq!(filtered.body["data"].as_array().expect("rows").len(), 1);
    assert_eq!(filtered.body["data"][0]["externalcode"], "E-2");

    let bad = reqwest::Client::new()
        .put(format!(
            "{}{}",
            sim.base,
            j2t_simulator::TPLUS_VOUCHER_LIST_PATH
        ))
        .json(&json!({"shape": "table"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);
}
