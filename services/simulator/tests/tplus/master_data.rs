//! Warehouses and inventories: Create refuses unknown codes; the admin API edits the lists.

use serde_json::json;

use crate::harness::{Sim, by_code, dto};

#[tokio::test]
async fn an_unknown_inventory_is_named_and_the_voucher_goes_through_once_it_is_added() {
    let sim = Sim::start().await;
    let voucher = dto("E-1", "2", &["SKU-TEA-001", "NEW-SKU-9"]);
    let refused = sim.create(&voucher).await;
    assert_eq!((refused.status, refused.code()), (400, "999"));
    assert_eq!(refused.message(), "第2行存货[NEW-SKU-9]不存在");
    assert!(sim.external_codes().await.is_empty());

    assert_eq!(
        sim.admin
            .add_inventories(&["NEW-SKU-9"])
            .await
            .expect("added"),
        1
    );
    assert!(sim.create(&voucher).await.is_success());
    assert_eq!(sim.external_codes().await, ["E-1"]);
}

#[tokio::test]
async fn an_unknown_warehouse_is_refused_before_the_lines() {
    let sim = Sim::start().await;
    let voucher = dto("E-1", "99", &["NEW-SKU"]);
    let refused = sim.create(&voucher).await;
    assert_eq!((refused.status, refused.code()), (400, "999"));
    assert_eq!(refused.message(), "仓库[99]不存在");
    // The dto is validated before master data: a bad quantity is reported first.
    let mut zero = voucher.clone();
    zero["RDRecordDetails"][0]["BaseQuantity"] = json!(0);
    assert_eq!(sim.create(&zero).await.message(), "第1行数量必须大于0");

    assert_eq!(sim.admin.add_warehouses(&["99"]).await.expect("added"), 1);
    assert_eq!(
        sim.create(&voucher).await.message(),
        "第1行存货[NEW-SKU]不存在"
    );
    assert!(sim.external_codes().await.is_empty());
    assert_eq!(by_code(&sim.stats().await, "http400_999"), 3);
}

#[tokio::test]
async fn the_admin_api_lists_adds_and_removes_codes() {
    let sim = Sim::start().await;
    let master = sim.admin.tplus_master_data().await.expect("master data");
    assert_eq!(master.warehouses.iter().collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(master.inventories.len(), 12);
    assert!(master.inventories.contains("SKU-TEA-001"));

    // Already known codes are not counted; odd characters survive the path.
    let added = sim
        .admin
        .add_inventories(&["SKU-TEA-001", "A/B 茶", "A-0"])
        .await
        .expect("added");
    assert_eq!(added, 2);
    let listed: Vec<String> = sim
        .admin
        .tplus_master_data()
        .await
        .expect("master data")
        .inventories
        .into_iter()
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "sorted");
    assert!(listed.iter().any(|c| c == "A/B 茶"));

    assert!(sim.admin.remove_inventory("A/B 茶").await.expect("removed"));
    assert!(!sim.admin.remove_inventory("A/B 茶").await.expect("absent"));
    assert!(
        sim.admin
            .remove_inventory("SKU-TEA-001")
            .await
            .expect("removed")
    );
    let refused = sim.create(&dto("E-1", "1", &["SKU-TEA-001"])).await;
    assert_eq!(refused.message(), "第1行存货[SKU-TEA-001]不存在");
    assert!(sim.admin.remove_warehouse("2").await.expect("removed"));
    let master = sim.admin.tplus_master_data().await.expect("master data");
    assert_eq!(master.warehouses.iter().collect::<Vec<_>>(), ["1"]);

    let http = reqwest::Client::new();
    let url = format!("{}{}", sim.base, j2t_simulator::TPLUS_INVENTORIES_PATH);
    for body in [r#"{"codes": ["X"]}"#, r#"[""]"#, r#"[" X"]"#, "not json"] {
        let answer = http.post(&url).body(body).send().await.expect("sent");
        assert_eq!(answer.status(), 400, "{body}");
    }
    let raw = http
        .post(&url)
        .json(&json!(["X-1", "X-2"]))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        raw.json::<serde_json::Value>().await.expect("JSON"),
        json!({"added": 2})
    );
}
