//! The project's T+ read client (`j2t_tplus`) and its voucher index against the simulated T+
//! over HTTP: every endpoint decoded, both list shapes, the token refresh, and the index's
//! cost in calls (counted by the simulator) through growth, deletion and concurrency.

use j2t_config::{ExposeSecret, TplusConfig, VoucherListOrder};
use j2t_simulator::{ListShape, VoucherListKnobs};
use j2t_tplus::{ReadError, TplusClient, VoucherIndex};

use crate::harness::{Sim, demo_dto};

fn config(sim: &Sim, adjust: impl FnOnce(&mut TplusConfig)) -> TplusConfig {
    let mut cfg = sim.cfg.tplus.clone();
    cfg.base_url = sim.base.parse().expect("url");
    adjust(&mut cfg);
    cfg
}

async fn store(sim: &Sim, codes: impl IntoIterator<Item = String>) {
    for code in codes {
        assert!(sim.create(&demo_dto(&code)).await.is_success(), "{code}");
    }
}

fn codes(range: std::ops::RangeInclusive<u32>) -> impl Iterator<Item = String> {
    range.map(|i| format!("E-{i}"))
}

async fn calls(sim: &Sim) -> u64 {
    sim.stats().await.tplus_requests
}

#[tokio::test]
async fn every_read_endpoint_decodes() {
    let sim = Sim::start().await;
    store(&sim, codes(1..=3)).await;
    let client = TplusClient::new(&config(&sim, |c| c.master_page_size = 5)).expect("client");

    let rows = client.find_voucher_list(0, 2).await.expect("page 0");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0].id.as_str(),
            rows[0].code.as_str(),
            rows[0].external_code.as_str()
        ),
        ("1", "QC-2026-11-0001", "E-1")
    );
    assert!(rows[0].ts.is_some());
    assert_eq!(
        client.find_voucher_list(1, 2).await.expect("page 1").len(),
        1
    );

    let dto = client
        .voucher_by_id("2")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(dto.external_code, "E-2");
    assert_eq!(
        (dto.id.as_deref(), dto.code.as_deref()),
        (Some("2"), Some("QC-2026-11-0002"))
    );
    assert_eq!(
        (dto.voucher_date.as_str(), dto.warehouse.as_str()),
        ("2026-11-25", "1")
    );
    let lines: Vec<(&str, f64)> = dto
        .lines
        .iter()
        .map(|l| (l.inventory.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("SKU-TEA-001", 1.0), ("SKU-CUP-002", 1.0)]);
    let same = client
        .voucher_by_code("QC-2026-11-0002")
        .await
        .expect("read");
    assert_eq!(same.map(|d| d.external_code), Some("E-2".into()));
    assert_eq!(client.voucher_by_id("99").await.expect("read"), None);
    assert_eq!(client.voucher_by_code("QC-0").await.expect("read"), None);

    // 12 demo SKUs in pages of 5: 3 pages.
    let before = calls(&sim).await;
    let inventories = client.inventories().await.expect("inventories");
    assert_eq!(inventories.len(), 12);
    assert_eq!(calls(&sim).await - before, 3);
    assert_eq!(inventories[0].name.as_deref(), Some("茶包 20 袋"));
    let warehouses = client.warehouses().await.expect("warehouses");
    assert_eq!(
        warehouses
            .iter()
            .map(|w| w.code.as_str())
            .collect::<Vec<_>>(),
        ["1", "2"]
    );

    client.audit_voucher("1").await.expect("audited");
    let again = client.audit_voucher("1").await.expect_err("audited twice");
    assert!(
        matches!(&again, ReadError::Refused { status: 400, code, .. } if code == "999"),
        "{again}"
    );
}

#[tokio::test]
async fn both_list_shapes_are_read_and_an_unknown_one_is_unreadable() {
    let sim = Sim::start().await;
    store(&sim, codes(1..=2)).await;
    sim.admin
        .set_voucher_list(&VoucherListKnobs {
            shape: ListShape::Object,
            ..Default::default()
        })
        .await
        .expect("set");
    let client = TplusClient::new(&config(&sim, |_| {})).expect("client");
    assert_eq!(
        client
            .find_voucher_list(0, 10)
            .await
            .expect("object shape")
            .len(),
        2
    );
    let other = TplusClient::new(&config(&sim, |c| c.voucher_list_rows_key = "list".into()))
        .expect("client");
    let error = other.find_voucher_list(0, 10).await.expect_err("wrong key");
    assert!(matches!(error, ReadError::Unreadable(_)), "{error}");
    assert!(
        error.to_string().contains("tplus.voucher_list_rows_key"),
        "{error}"
    );
}

#[tokio::test]
async fn reads_refresh_a_refused_token_once_and_classify_faults() {
    let sim = Sim::start().await;
    let client = TplusClient::new(&config(&sim, |_| {})).expect("client");
    sim.admin.expire_tplus_token().await.expect("expired");
    assert!(client.warehouses().await.is_ok());
    assert_eq!(sim.stats().await.tplus_token_refreshes, 1);
    sim.set_faults(j2t_simulator::TplusFaults {
        throttle_409_probability: 1.0,
        ..Default::default()
    })
    .await;
    assert!(
        client
            .find_voucher_list(0, 1)
            .await
            .expect_err("409")
            .is_transient()
    );
    sim.set_faults(j2t_simulator::TplusFaults {
        quota_exhausted: true,
        ..Default::default()
    })
    .await;
    assert!(matches!(
        client.warehouses().await,
        Err(ReadError::QuotaExhausted(_))
    ));
    let wrong = TplusClient::new(&config(&sim, |c| c.app_key = "nobody".into())).expect("client");
    assert!(matches!(
        wrong.warehouses().await,
        Err(ReadError::AuthRefused(_))
    ));
}

#[tokio::test]
async fn the_index_reads_only_new_pages_and_rescans_after_a_deletion() {
    let sim = Sim::start().await;
    store(&sim, codes(1..=5)).await;
    let cfg = config(&sim, |c| c.voucher_list_page_size = 2);
    let index = VoucherIndex::new(TplusClient::new(&cfg).expect("client"), &cfg);

    // First lookup: a full scan, pages 0..=2 (2 + 2 + 1 rows).
    let start = calls(&sim).await;
    let row = index.lookup("E-4").await.expect("lookup").expect("found");
    assert_eq!(
        (row.id.as_str(), row.code.as_str()),
        ("4", "QC-2026-11-0004")
    );
    assert_eq!(calls(&sim).await - start, 3);
    // A hit costs nothing.
    let start = calls(&sim).await;
    assert!(index.lookup("E-1").await.expect("lookup").is_some());
    assert_eq!(calls(&sim).await - start, 0);

    // A new voucher: rereads page 2 (now full) and page 3 (empty) only.
    store(&sim, codes(6..=6)).await;
    let start = calls(&sim).await;
    assert!(index.lookup("E-6").await.expect("lookup").is_some());
    assert_eq!(calls(&sim).await - start, 2);
    // A miss that stays a miss: the last known row's page (to check it is still there) and
    // the next.
    let start = calls(&sim).await;
    assert_eq!(index.lookup("E-9").await.expect("lookup"), None);
    assert_eq!(calls(&sim).await - start, 2);

    // Deleting E-2 shifts E-5 and E-6 down a place: detected, then a full rescan.
    assert!(
        sim.admin
            .delete_tplus_voucher("E-2")
            .await
            .expect("deleted")
    );
    let start = calls(&sim).await;
    assert_eq!(index.lookup("E-9").await.expect("lookup"), None);
    assert_eq!(calls(&sim).await - start, 1 + 3);
    let known: Vec<String> = index.rows().into_iter().map(|r| r.external_code).collect();
    assert_eq!(known, ["E-1", "E-3", "E-4", "E-5", "E-6"]);
    assert_eq!(index.lookup("E-2").await.expect("lookup"), None);
}

#[tokio::test]
async fn concurrent_lookups_share_one_refresh() {
    let sim = Sim::start().await;
    store(&sim, codes(1..=5)).await;
    let cfg = config(&sim, |c| c.voucher_list_page_size = 2);
    let index = VoucherIndex::new(TplusClient::new(&cfg).expect("client"), &cfg);
    let start = calls(&sim).await;
    let lookups = (0..10).map(|i| {
        let index = index.clone();
        async move { index.lookup(&format!("E-{}", i % 7)).await }
    });
    let found = futures::future::join_all(lookups).await;
    let found = found
        .into_iter()
        .filter(|r| matches!(r, Ok(Some(_))))
        .count();
    // E-1..=E-5 are found (i % 7 in 1..=5: i = 1..=5, 8, 9), E-0 and E-6 are not.
    assert_eq!(found, 7);
    assert_eq!(calls(&sim).await - start, 3);
}

#[tokio::test]
async fn the_index_follows_a_newest_first_list() {
    let sim = Sim::start().await;
    sim.admin
        .set_voucher_list(&VoucherListKnobs {
            newest_first: true,
            ..Default::default()
        })
        .await
        .expect("set");
    store(&sim, codes(1..=5)).await;
    let cfg = config(&sim, |c| {
        c.voucher_list_page_size = 2;
        c.voucher_list_order = VoucherListOrder::NewestFirst;
    });
    let index = VoucherIndex::new(TplusClient::new(&cfg).expect("client"), &cfg);
    index.refresh().await.expect("refresh");
    store(&sim, codes(6..=7)).await;
    let start = calls(&sim).await;
    assert!(index.lookup("E-7").await.expect("lookup").is_some());
    // Page 0 holds E-7, E-6; page 1 starts with E-5, the newest known row.
    assert_eq!(calls(&sim).await - start, 2);
    assert_eq!(index.rows().len(), 7);
    assert!(
        sim.admin
            .delete_tplus_voucher("E-7")
            .await
            .expect("deleted")
    );
    index.refresh().await.expect("refresh");
    assert_eq!(index.rows().len(), 6);
    assert_eq!(index.lookup("E-7").await.expect("lookup"), None);
}

#[tokio::test]
async fn a_filter_key_is_used_when_t_plus_honours_it_and_dropped_when_not() {
    let sim = Sim::start().await;
    store(&sim, codes(1..=5)).await;
    let cfg = config(&sim, |c| {
        c.voucher_list_page_size = 2;
        c.external_code_filter_key = "ExternalCode".into();
    });
    // The simulator honours the key: one call per lookup, no scan.
    sim.admin
        .set_voucher_list(&VoucherListKnobs {
            external_code_filter_key: Some("ExternalCode".into()),
            ..Default::default()
        })
        .await
        .expect("set");
    let index = VoucherIndex::new(TplusClient::new(&cfg).expect("client"), &cfg);
    let start = calls(&sim).await;
    assert_eq!(
        index.lookup("E-5").await.expect("lookup").map(|r| r.id),
        Some("5".into())
    );
    assert_eq!(index.lookup("E-9").await.expect("lookup"), None);
    assert_eq!(calls(&sim).await - start, 2);

    // It ignores the key: the rows returned are not E-4's, so the index takes over.
    sim.admin
        .set_voucher_list(&VoucherListKnobs::default())
        .await
        .expect("set");
    let index = VoucherIndex::new(TplusClient::new(&cfg).expect("client"), &cfg);
    let start = calls(&sim).await;
    assert_eq!(
        index.lookup("E-4").await.expect("lookup").map(|r| r.id),
        Some("4".into())
    );
    assert_eq!(calls(&sim).await - start, 1 + 3);
    // From then on, no more filter calls: a hit costs nothing.
    let start = calls(&sim).await;
    assert!(index.lookup("E-5").await.expect("lookup").is_some());
    assert_eq!(calls(&sim).await - start, 0);
}

#[tokio::test]
async fn a_refresh_t_plus_refuses_is_remembered_until_a_call_is_accepted() {
    let sim = Sim::start().await;
    // The app was re-authorised elsewhere: the configured pair and its refresh token are dead.
    sim.admin
        .set_tplus_tokens("new-open", "new-refresh")
        .await
        .expect("new pair");
    let client = TplusClient::new(&config(&sim, |_| {})).expect("client");
    let answer = client
        .create_other_dispatch(&serde_json::json!({ "dto": demo_dto("E-1") }))
        .await;
    assert!(j2t_tplus::is_auth_failure(&answer), "{answer:?}");
    let refused = client.refresh_refused().expect("the refusal is kept");
    assert!(refused.contains("40001"), "{refused}");
    assert!(!refused.contains(&sim.cfg.tplus.app_secret.expose_secret().to_string()));

    // The operator configures the new pair: calls work, and the refusal is forgotten.
    let client = TplusClient::new(&config(&sim, |c| {
        c.open_token = "new-open".into();
        c.refresh_token = "new-refresh".into();
    }))
    .expect("client");
    let answer = client
        .create_other_dispatch(&serde_json::json!({ "dto": demo_dto("E-1") }))
        .await;
    assert!(
        matches!(answer, j2t_tplus::Answer::Http { status: 200, .. }),
        "{answer:?}"
    );
    assert_eq!(client.refresh_refused(), None);
}
