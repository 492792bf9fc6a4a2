use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Duration as Days;
use j2t_simulator::DemoSpec;
use jst2tplus::reconcile;
use serde_json::Value;

use j2t_e2e::harness::{Stack, eventually};

fn distinct(orders: &[Value], f: impl Fn(&Value) -> Vec<String>) -> usize {
    orders.iter().flat_map(f).collect::<BTreeSet<_>>().len()
}

/// The walking skeleton's acceptance: 240 orders over 3 days, 3 shops, 12 SKUs, a fifth of
/// them not Confirmed; fetcher, transformer and writer as separate processes. T+ must end up
/// with Σ quantity per (VoucherDate, SKU) equal to the Confirmed orders', no code twice.
#[tokio::test(flavor = "multi_thread")]
async fn confirmed_orders_reach_tplus_merged_per_day_with_exact_sums() {
    let stack = Stack::start().await;
    // Ends two days ago, so the fetcher's safety lag never holds orders back at midnight.
    let end = j2t_simulator::jst_today(480) - Days::days(2);
    let first = end - Days::days(2);
    let seeded = stack
        .admin
        .seed(&DemoSpec {
            orders: 240,
            days: 3,
            seed: 2026,
            end_date: Some(end),
        })
        .await
        .expect("seeding");
    assert_eq!(seeded, 240);

    let source = stack.admin.orders().await.expect("orders");
    assert!(
        distinct(&source, |o| vec![
            o["io_date"].as_str().unwrap_or("")[..10].to_string()
        ]) >= 3
    );
    assert!(distinct(&source, |o| vec![o["shop_id"].to_string()]) >= 2);
    assert!(
        distinct(&source, |o| o["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| i["sku_id"].to_string())
            .collect())
            >= 10
    );
    let not_confirmed = source.iter().filter(|o| o["status"] != "Confirmed").count();
    assert!(not_confirmed > 0, "some orders must not be Confirmed");
    let expected = reconcile::expected(&source, "Confirmed");

    let start_time = format!("{first} 00:00:00");
    let _fetcher = stack.spawn(
        "jst2tplus-fetcher",
        &[
            ("J2T__FETCHER__START_TIME", start_time),
            ("J2T__FETCHER__POLL_INTERVAL_SECS", "1".into()),
        ],
    );
    let _transformer = stack.spawn("jst2tplus-transformer", &[]);
    let _writer = stack.spawn("jst2tplus-writer", &[]);

    let admin = &stack.admin;
    let dtos = eventually(Duration::from_secs(120), "T+ sums to match JST", || async {
        let dtos = admin.voucher_dtos().await.ok()?;
        let rows = reconcile::by_day(&expected, &dtos);
        (rows.len() == 3 && rows.iter().all(|r| r.matches)).then_some(dtos)
    })
    .await;

    // Nothing more may arrive afterwards (a late duplicate would break the sums).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = admin.voucher_dtos().await.expect("vouchers");
    assert_eq!(
        settled.len(),
        dtos.len(),
        "vouchers kept arriving after the sums matched"
    );
    assert!(
        reconcile::by_day(&expected, &settled)
            .iter()
            .all(|r| r.matches)
    );
    assert!(reconcile::duplicate_codes(&settled).is_empty());
    let total: f64 = expected.values().sum();
    assert!(total > 0.0);

    // Merged: far fewer vouchers than orders, each a valid other-outbound order.
    let confirmed = source.len() - not_confirmed;
    assert!(
        settled.len() < confirmed / 4,
        "{} vouchers for {confirmed} orders",
        settled.len()
    );
    for dto in &settled {
        assert_eq!(dto["VoucherType"]["Code"], "ST1024");
        assert_eq!(dto["BusiType"]["Code"], "13");
        let code = dto["ExternalCode"].as_str().expect("code");
        assert!(code.len() <= 30 && code.starts_with("JT"), "{code}");
    }
}
