//! Properties of the merge over random orders: exact sums, independence of input order, and
//! the `body_max_line` bound.

use std::collections::{BTreeMap, BTreeSet};

use j2t_mapping::{MapOutput, Mapping, map_orders};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::{builtin_with, lines};

const DATES: [&str; 3] = ["2026-11-24", "2026-11-25", "2026-11-26"];
const SKUS: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

/// (date, warehouse, [(sku, qty, amount in cents)]) per order; io_ids are the positions, so
/// they are distinct.
type Spec = Vec<(usize, i64, Vec<(usize, i64, i64)>)>;

fn specs() -> impl Strategy<Value = Spec> {
    let line = (0..SKUS.len(), 1..500_i64, 0..100_000_i64);
    let order = (0..DATES.len(), 1..=3_i64, prop::collection::vec(line, 1..6));
    prop::collection::vec(order, 0..25)
}

fn orders(spec: &Spec) -> Vec<Value> {
    spec.iter()
        .enumerate()
        .map(|(i, (date, warehouse, items))| {
            let items: Vec<Value> = items
                .iter()
                .map(|(sku, qty, cents)| {
                    // Amounts as JST sends them: decimal numbers with two places.
                    json!({"sku_id": SKUS[*sku], "qty": qty, "sale_price": 1,
                           "sale_amount": *cents as f64 / 100.0})
                })
                .collect();
            json!({"io_id": 1000 + i, "io_date": format!("{} 12:00:00", DATES[*date]),
                   "wms_co_id": warehouse, "remark": "", "ts": 1, "items": items})
        })
        .collect()
}

fn mapping(body_max_line: usize) -> Mapping {
    let text = builtin_with(
        "body_max_line = 200",
        &format!("body_max_line = {body_max_line}"),
    );
    Mapping::from_toml(&text).expect("valid")
}

type Totals = BTreeMap<(String, String, String), (i64, i64)>;

/// Σ quantity and Σ amount (cents) per (date, warehouse, SKU) in the input.
fn input_totals(spec: &Spec) -> Totals {
    let mut totals = Totals::new();
    for (date, warehouse, items) in spec {
        for (sku, qty, cents) in items {
            let key = (
                DATES[*date].into(),
                warehouse.to_string(),
                SKUS[*sku].into(),
            );
            let t = totals.entry(key).or_default();
            t.0 += qty;
            t.1 += cents;
        }
    }
    totals
}

/// The same totals read back from the T+ payloads.
fn output_totals(out: &MapOutput) -> Totals {
    let mut totals = Totals::new();
    for v in &out.vouchers {
        let dto = &v.payload["dto"];
        for line in lines(&v.payload) {
            let key = (
                dto["VoucherDate"].as_str().expect("date").to_string(),
                dto["Warehouse"]["Code"]
                    .as_str()
                    .expect("warehouse")
                    .to_string(),
                line["Inventory"]["Code"].as_str().expect("sku").to_string(),
            );
            let t = totals.entry(key).or_default();
            t.0 += line["BaseQuantity"].as_i64().expect("whole quantity");
            t.1 += (line["Amount"].as_f64().expect("amount") * 100.0).round() as i64;
        }
    }
    totals
}

proptest! {
    #[test]
    fn sums_per_date_and_sku_survive_merge_and_split(spec in specs(), max in 1..4_usize) {
        let out = map_orders(&mapping(max), orders(&spec), "w");
        prop_assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        prop_assert_eq!(output_totals(&out), input_totals(&spec));
    }

    #[test]
    fn output_is_the_same_for_any_order_and_duplication_of_the_input(
        (spec, shuffled) in specs().prop_flat_map(|s| {
            let positions: Vec<usize> = (0..s.len()).collect();
            (Just(s), Just(positions).prop_shuffle())
        }),
        duplicates in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        max in 1..4_usize,
    ) {
        let m = mapping(max);
        let input = orders(&spec);
        let mut permuted: Vec<Value> = shuffled.iter().map(|&i| input[i].clone()).collect();
        if !input.is_empty() {
            permuted.extend(duplicates.iter().map(|d| input[d.index(input.len())].clone()));
        }
        let a = serde_json::to_string(&map_orders(&m, input, "w").vouchers).expect("json");
        let b = serde_json::to_string(&map_orders(&m, permuted, "w").vouchers).expect("json");
        prop_assert_eq!(a, b);
    }

    #[test]
    fn no_voucher_exceeds_body_max_line_and_codes_are_unique(spec in specs(), max in 1..4_usize) {
        let out = map_orders(&mapping(max), orders(&spec), "w");
        let mut codes = BTreeSet::new();
        let mut io_ids = BTreeSet::new();
        for v in &out.vouchers {
            let n = lines(&v.payload).len();
            prop_assert!((1..=max).contains(&n), "{} has {n} lines", v.external_code);
            prop_assert!(v.part >= 1 && v.part <= v.parts);
            prop_assert!(v.external_code.len() <= 30);
            prop_assert_eq!(v.payload["dto"]["ExternalCode"].as_str(), Some(v.external_code.as_str()));
            prop_assert!(codes.insert(v.external_code.clone()), "{} twice", v.external_code);
            io_ids.extend(v.io_ids.iter().copied());
        }
        // Lineage: every order is in some voucher.
        prop_assert_eq!(io_ids.len(), spec.len());
    }
}
