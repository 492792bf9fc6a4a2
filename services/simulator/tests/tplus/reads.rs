//! The read endpoints over HTTP: FindVoucherList, GetVoucherDTO (by id and by code), Audit,
//! inventory/Query and warehouse/Query, behind the same gate as Create.

use j2t_simulator::TplusFaults;
use j2t_tplus::{
    AUDIT_PATH, FIND_VOUCHER_LIST_PATH, GET_VOUCHER_DTO_PATH, INVENTORY_QUERY_PATH,
    WAREHOUSE_QUERY_PATH,
};
use serde_json::{Value, json};

use crate::harness::{Sim, by_code, demo_dto};

async fn stored(sim: &Sim, codes: &[&str]) {
    for code in codes {
        assert!(sim.create(&demo_dto(code)).await.is_success(), "{code}");
    }
}

fn codes(data: &Value) -> Vec<&str> {
    data.as_array()
        .expect("rows")
        .iter()
        .map(|r| r["externalcode"].as_str().expect("externalcode"))
        .collect()
}

#[tokio::test]
async fn find_voucher_list_pages_from_zero_in_arrival_order() {
    let sim = Sim::start().await;
    stored(&sim, &["E-1", "E-2", "E-3"]).await;
    let first = sim.list(0, 2).await;
    assert_eq!((first.status, first.code()), (200, "0"));
    assert_eq!(codes(&first.body["data"]), ["E-1", "E-2"]);
    let row = &first.body["data"][0];
    assert_eq!(row["id"], json!(1));
    assert_eq!(row["code"], json!("QC-2026-11-0001"));
    assert!(row["ts"].as_str().is_some_and(|ts| !ts.is_empty()), "{row}");
    let keys: Vec<&String> = row.as_object().expect("row").keys().collect();
    assert_eq!(keys, ["code", "externalcode", "id", "ts"]);
    assert_eq!(codes(&sim.list(1, 2).await.body["data"]), ["E-3"]);
    assert!(codes(&sim.list(2, 2).await.body["data"]).is_empty());
    let bad = sim
        .read(
            FIND_VOUCHER_LIST_PATH,
            &json!({"pageIndex": -1, "pageSize": 2}),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "999"));
}

#[tokio::test]
async fn get_voucher_dto_by_id_and_by_code_returns_what_was_stored_with_id_and_code() {
    let sim = Sim::start().await;
    stored(&sim, &["E-1", "E-2"]).await;
    let by_id = sim
        .read(GET_VOUCHER_DTO_PATH, &json!({"param": {"voucherID": "2"}}))
        .await;
    assert_eq!((by_id.status, by_id.code()), (200, "0"));
    let dto = &by_id.body["data"];
    assert_eq!(dto["ExternalCode"], "E-2");
    assert_eq!(
        (dto["ID"].clone(), dto["Code"].clone()),
        (json!(2), json!("QC-2026-11-0002"))
    );
    assert_eq!(dto["RDRecordDetails"], demo_dto("E-2")["RDRecordDetails"]);
    assert_eq!(dto["Warehouse"]["Code"], "1");

    let by_code = sim
        .read(
            GET_VOUCHER_DTO_PATH,
            &json!({"param": {"voucherCode": "QC-2026-11-0001", "voucherTypeCode": "ST1024"}}),
        )
        .await;
    assert_eq!(by_code.body["data"]["ExternalCode"], "E-1");

    let missing = sim
        .read(GET_VOUCHER_DTO_PATH, &json!({"param": {"voucherID": 99}}))
        .await;
    assert_eq!((missing.status, missing.code()), (400, "999"));
    assert!(
        missing.message().contains("不存在"),
        "{}",
        missing.message()
    );
    let empty = sim.read(GET_VOUCHER_DTO_PATH, &json!({"param": {}})).await;
    assert_eq!((empty.status, empty.code()), (400, "999"));
}

#[tokio::test]
async fn audit_marks_the_voucher_once_and_changes_its_row_version() {
    let sim = Sim::start().await;
    stored(&sim, &["E-1"]).await;
    let before = sim.list(0, 10).await.body["data"][0]["ts"].clone();
    let audited = sim
        .read(AUDIT_PATH, &json!({"param": {"voucherID": "1"}}))
        .await;
    assert_eq!((audited.status, audited.code()), (200, "0"));
    let after = sim.list(0, 10).await.body["data"][0]["ts"].clone();
    assert_ne!(before, after);
    assert_eq!(
        sim.admin.tplus_vouchers().await.expect("vouchers")[0]["audited"],
        true
    );
    let again = sim
        .read(AUDIT_PATH, &json!({"param": {"voucherID": "1"}}))
        .await;
    assert_eq!((again.status, again.code()), (400, "999"));
    assert!(again.message().contains("已审核"));
    let missing = sim
        .read(AUDIT_PATH, &json!({"param": {"voucherID": "7"}}))
        .await;
    assert!(missing.message().contains("不存在"));
}

fn query_codes(answer: &Value) -> Vec<&str> {
    answer
        .as_array()
        .expect("a bare array")
        .iter()
        .map(|r| r["Code"].as_str().expect("Code"))
        .collect()
}

#[tokio::test]
async fn inventory_query_filters_with_wildcards_and_pages_inside_param() {
    let sim = Sim::start().await;
    let all = sim.read(INVENTORY_QUERY_PATH, &json!({"param": {}})).await;
    assert_eq!(all.status, 200);
    assert_eq!(query_codes(&all.body).len(), 12);
    assert_eq!(
        all.body[0],
        json!({"Code": "SKU-BAG-001", "Name": "茶包 20 袋"})
    );

    let tea = sim
        .read(INVENTORY_QUERY_PATH, &json!({"param": {"Code": "%TEA%"}}))
        .await;
    assert_eq!(
        query_codes(&tea.body),
        ["SKU-TEA-001", "SKU-TEA-002", "SKU-TEA-003"]
    );
    let named = sim
        .read(
            INVENTORY_QUERY_PATH,
            &json!({"param": {"Name": "%茶具%", "SelectFields": "Code,Name"}}),
        )
        .await;
    assert_eq!(query_codes(&named.body), ["SKU-SET-001", "SKU-SET-002"]);

    let mut sizes = Vec::new();
    for index in 1..=4 {
        let body = json!({"param": {"PageSize": 5, "PageIndex": index}});
        sizes.push(query_codes(&sim.read(INVENTORY_QUERY_PATH, &body).await.body).len());
    }
    assert_eq!(sizes, [5, 5, 2, 0]);
    let too_big = sim
        .read(INVENTORY_QUERY_PATH, &json!({"param": {"PageSize": 1001}}))
        .await;
    assert_eq!((too_big.status, too_big.code()), (400, "999"));

    sim.admin.add_inventories(&["NEW-1"]).await.expect("added");
    let new = sim
        .read(INVENTORY_QUERY_PATH, &json!({"param": {"Code": "NEW-1"}}))
        .await;
    assert_eq!(new.body, json!([{"Code": "NEW-1", "Name": "NEW-1"}]));
}

#[tokio::test]
async fn warehouse_query_is_a_bare_array() {
    let sim = Sim::start().await;
    let all = sim.read(WAREHOUSE_QUERY_PATH, &json!({"param": {}})).await;
    assert_eq!(
        all.body,
        json!([{"Code": "1", "Name": "仓库1"}, {"Code": "2", "Name": "仓库2"}])
    );
    let one = sim
        .read(WAREHOUSE_QUERY_PATH, &json!({"param": {"Code": "2"}}))
        .await;
    assert_eq!(query_codes(&one.body), ["2"]);
}

#[tokio::test]
async fn reads_pass_the_same_gate_as_create() {
    let sim = Sim::start().await;
    let paths = [
        FIND_VOUCHER_LIST_PATH,
        GET_VOUCHER_DTO_PATH,
        AUDIT_PATH,
        INVENTORY_QUERY_PATH,
        WAREHOUSE_QUERY_PATH,
    ];
    for path in paths {
        let refused = sim.read_with("stale", path, &json!({})).await;
        assert_eq!((refused.status, refused.code()), (401, "50000"), "{path}");
    }
    sim.admin.expire_tplus_token().await.expect("expired");
    let expired = sim.list(0, 1).await;
    assert_eq!((expired.status, expired.code()), (401, "50000"));
    sim.set_faults(TplusFaults {
        quota_exhausted: true,
        ..Default::default()
    })
    .await;
    let token = sim.refresh(&sim.refresh_token()).await.body["result"]["access_token"]
        .as_str()
        .expect("new token")
        .to_string();
    let quota = sim
        .read_with(&token, WAREHOUSE_QUERY_PATH, &json!({}))
        .await;
    assert_eq!((quota.status, quota.code()), (401, "50112"));
    sim.set_faults(TplusFaults {
        outage: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        sim.read_with(&token, WAREHOUSE_QUERY_PATH, &json!({}))
            .await
            .status,
        503
    );
    sim.set_faults(TplusFaults {
        throttle_409_probability: 1.0,
        ..Default::default()
    })
    .await;
    assert_eq!(
        sim.read_with(&token, WAREHOUSE_QUERY_PATH, &json!({}))
            .await
            .status,
        409
    );
    sim.set_faults(TplusFaults {
        http_5xx_probability: 1.0,
        ..Default::default()
    })
    .await;
    assert_eq!(
        sim.read_with(&token, FIND_VOUCHER_LIST_PATH, &json!({}))
            .await
            .status,
        503
    );
    let stats = sim.stats().await;
    assert_eq!(by_code(&stats, "http401_50000"), 6);
    assert_eq!(by_code(&stats, "http401_50112"), 1);
}

/// Reads draw their faults from their own RNG: the same seed gives Create the same answers
/// whether or not reads come in between.
#[tokio::test]
async fn reads_do_not_change_creates_fault_sequence() {
    let faults = TplusFaults {
        http_5xx_probability: 0.3,
        throttle_409_probability: 0.3,
        seed: 11,
        ..Default::default()
    };
    let mut runs = Vec::new();
    for with_reads in [false, true] {
        let sim = Sim::start().await;
        sim.set_faults(faults.clone()).await;
        let mut statuses = Vec::new();
        for i in 0..30 {
            if with_reads {
                sim.list(0, 10).await;
                sim.read(WAREHOUSE_QUERY_PATH, &json!({})).await;
            }
            statuses.push(sim.create(&demo_dto(&format!("E-{i}"))).await.status);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&200) && runs[0].contains(&503) && runs[0].contains(&409));
}
