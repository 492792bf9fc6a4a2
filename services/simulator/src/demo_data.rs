//! Deterministic demo orders: the same spec always yields the same orders.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use j2t_domain::JST_TIME_FORMAT;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoSpec {
    pub orders: u32,
    #[serde(default = "default_days")]
    pub days: u32,
    #[serde(default)]
    pub seed: u64,
    /// Last day with orders (JST local date). Default: yesterday.
    #[serde(default)]
    pub end_date: Option<NaiveDate>,
}

fn default_days() -> u32 {
    3
}

/// (shop_id, shop_name, is_offline_shop)
const SHOPS: [(i64, &str, bool); 3] = [
    (10_001, "天猫旗舰店", false),
    (10_002, "京东自营店", false),
    (0, "线下门店", true),
];
const WAREHOUSES: [i64; 2] = [1, 2];
/// (sku_id, name, unit price)
const SKUS: [(&str, &str, f64); 12] = [
    ("SKU-TEA-001", "龙井茶 250g", 88.0),
    ("SKU-TEA-002", "普洱茶饼 357g", 128.0),
    ("SKU-TEA-003", "铁观音 500g", 99.5),
    ("SKU-CUP-001", "玻璃杯", 19.9),
    ("SKU-CUP-002", "紫砂壶", 268.0),
    ("SKU-BOX-001", "礼盒", 35.0),
    ("SKU-BAG-001", "茶包 20 袋", 25.8),
    ("SKU-BAG-002", "花茶 30 袋", 32.0),
    ("SKU-SET-001", "旅行茶具", 158.0),
    ("SKU-SET-002", "功夫茶具", 399.0),
    ("SKU-MAT-001", "茶席", 45.0),
    ("SKU-MAT-002", "茶巾", 9.9),
];
/// Weighted statuses: most orders shipped.
const STATUSES: [(&str, u32); 4] = [
    ("Confirmed", 80),
    ("WaitConfirm", 8),
    ("Cancelled", 6),
    ("Delete", 6),
];

/// The demo warehouses as T+ knows them: the default mapping turns JST's `wms_co_id` into
/// the T+ warehouse code, so the simulated T+ starts out knowing every demo `wms_co_id`.
pub fn warehouse_codes() -> impl Iterator<Item = String> {
    WAREHOUSES.iter().map(i64::to_string)
}

/// The demo SKUs as T+ inventory codes (the default mapping uses `sku_id` unchanged).
pub fn inventory_codes() -> impl Iterator<Item = &'static str> {
    SKUS.iter().map(|(sku_id, _, _)| *sku_id)
}

/// The demo name of an inventory code, if it is a demo SKU.
pub fn inventory_name(code: &str) -> Option<&'static str> {
    SKUS.iter()
        .find(|(sku_id, _, _)| *sku_id == code)
        .map(|(_, name, _)| *name)
}

/// JST local date today.
pub fn jst_today(utc_offset_minutes: i32) -> NaiveDate {
    (chrono::Utc::now() + Duration::minutes(utc_offset_minutes.into()))
        .naive_utc()
        .date()
}

pub fn demo_orders(spec: &DemoSpec, utc_offset_minutes: i32) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let end = spec
        .end_date
        .unwrap_or_else(|| jst_today(utc_offset_minutes) - Duration::days(1));
    let days = spec.days.max(1);
    let first = end - Duration::days(i64::from(days) - 1);
    let base_io_id = 100_000 + (spec.seed % 1_000) as i64 * 1_000_000;
    (0..spec.orders)
        .map(|i| {
            let day = first + Duration::days(i64::from(i % days));
            let io_date = day.and_hms_opt(0, 0, 0).expect("midnight exists")
                + Duration::seconds(rng.random_range(0..86_400));
            order(&mut rng, base_io_id + i64::from(i), io_date)
        })
        .collect()
}

fn pick_status(rng: &mut StdRng) -> &'static str {
    let total: u32 = STATUSES.iter().map(|s| s.1).sum();
    let mut roll = rng.random_range(0..total);
    for (status, weight) in STATUSES {
        if roll < weight {
            return status;
        }
        roll -= weight;
    }
    STATUSES[0].0
}

fn order(rng: &mut StdRng, io_id: i64, io_date: NaiveDateTime) -> Value {
    let (shop_id, shop_name, offline) = SHOPS[rng.random_range(0..SHOPS.len())];
    let wms_co_id = WAREHOUSES[rng.random_range(0..WAREHOUSES.len())];
    let modified = io_date + Duration::seconds(rng.random_range(0..1_800));
    let created = io_date - Duration::seconds(rng.random_range(600..86_400));
    let lines = rng.random_range(1..=4);
    let mut pay_amount = 0.0;
    let items: Vec<Value> = (0..lines)
        .map(|n| {
            let (sku_id, name, price) = SKUS[rng.random_range(0..SKUS.len())];
            let qty: i64 = rng.random_range(1..=5);
            let is_gift = rng.random_range(0..20) == 0;
            let sale_price = if is_gift { 0.0 } else { price };
            let sale_amount = (sale_price * qty as f64 * 100.0).round() / 100.0;
            pay_amount += sale_amount;
            json!({
                "ioi_id": io_id * 10 + n,
                "sku_id": sku_id,
                "i_id": sku_id.rsplit_once('-').map_or(sku_id, |(head, _)| head),
                "name": name,
                "properties_value": "",
                "qty": qty,
                "sale_price": sale_price,
                "sale_amount": sale_amount,
                "sale_base_price": price,
                "is_gift": is_gift,
                "combine_sku_id": "",
                "unit": "件",
                "outer_oi_id": format!("OI{io_id}{n}"),
                "raw_so_id": format!("SO{io_id}"),
            })
        })
        .collect();
    json!({
        "co_id": 10_174_711,
        "shop_id": shop_id,
        "shop_name": shop_name,
        "is_offline_shop": offline,
        "io_id": io_id,
        "o_id": io_id + 7_000_000,
        "so_id": format!("SO{io_id}"),
        "created": created.format(JST_TIME_FORMAT).to_string(),
        "modified": modified.format(JST_TIME_FORMAT).to_string(),
        "io_date": io_date.format(JST_TIME_FORMAT).to_string(),
        "status": pick_status(rng),
        "order_type": "普通订单",
        "remark": format!("demo order {io_id}"),
        "wms_co_id": wms_co_id,
        "pay_amount": (pay_amount * 100.0_f64).round() / 100.0,
        "freight": 0,
        "l_id": format!("SF{io_id}"),
        "lc_id": "SF",
        "logistics_company": "顺丰速运",
        "ts": io_id * 3,
        "items": items,
        "batchs": [],
        "sns": [],
        "ClusterInfos": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_orders_only_use_the_exposed_catalog() {
        let spec = DemoSpec {
            orders: 200,
            days: 2,
            seed: 3,
            end_date: NaiveDate::from_ymd_opt(2026, 11, 27),
        };
        let warehouses: Vec<String> = warehouse_codes().collect();
        let skus: Vec<&str> = inventory_codes().collect();
        assert_eq!((warehouses.len(), skus.len()), (2, 12));
        for order in demo_orders(&spec, 480) {
            assert!(
                warehouses.contains(&order["wms_co_id"].to_string()),
                "{order}"
            );
            for item in order["items"].as_array().expect("items") {
                assert!(skus.contains(&item["sku_id"].as_str().expect("sku_id")));
            }
        }
    }

    #[test]
    fn same_spec_same_orders_spread_over_days_shops_and_statuses() {
        let spec = DemoSpec {
            orders: 300,
            days: 3,
            seed: 7,
            end_date: NaiveDate::from_ymd_opt(2026, 11, 27),
        };
        let a = demo_orders(&spec, 480);
        assert_eq!(a, demo_orders(&spec, 480));
        let distinct = |key: &str| {
            a.iter()
                .map(|o| o[key].to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        assert_eq!(distinct("shop_id"), 3);
        assert_eq!(distinct("status"), 4);
        let days: std::collections::BTreeSet<_> = a
            .iter()
            .map(|o| o["io_date"].as_str().map(|d| d[..10].to_string()))
            .collect();
        assert_eq!(days.len(), 3);
        assert!(days.contains(&Some("2026-11-25".to_string())));
    }
}
