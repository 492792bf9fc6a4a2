//! Σ quantity per (date, SKU): what JST shipped against what T+ holds.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// (date `yyyy-MM-dd`, SKU) → quantity.
pub type QtyBySku = BTreeMap<(String, String), f64>;

/// Quantities of the orders with `status` (e.g. `Confirmed`), by ship date and SKU.
pub fn expected(orders: &[Value], status: &str) -> QtyBySku {
    expected_shipped(orders, &[status.to_string()])
}

/// Whether an order is in one of `statuses` (the shipped ones).
pub fn is_shipped(order: &Value, statuses: &[String]) -> bool {
    statuses.iter().any(|s| order["status"] == s.as_str())
}

/// Quantities of the orders in any of `statuses`, by ship date and SKU.
pub fn expected_shipped(orders: &[Value], statuses: &[String]) -> QtyBySku {
    let mut out = QtyBySku::new();
    for order in orders.iter().filter(|o| is_shipped(o, statuses)) {
        let date = order["io_date"].as_str().unwrap_or_default();
        let date = date.get(..10).unwrap_or(date).to_string();
        for item in order["items"].as_array().into_iter().flatten() {
            let sku = item["sku_id"].as_str().unwrap_or_default().to_string();
            *out.entry((date.clone(), sku)).or_default() += item["qty"].as_f64().unwrap_or(0.0);
        }
    }
    out
}

/// Quantities in T+ vouchers (`dto` objects), by VoucherDate and Inventory.Code; a return
/// (`BusiType` 14, a correction voucher) counts negative.
pub fn actual(dtos: &[Value]) -> QtyBySku {
    let mut out = QtyBySku::new();
    for dto in dtos {
        let sign = if dto["BusiType"]["Code"] == "14" {
            -1.0
        } else {
            1.0
        };
        let date = dto["VoucherDate"].as_str().unwrap_or_default().to_string();
        for line in dto["RDRecordDetails"].as_array().into_iter().flatten() {
            let sku = line["Inventory"]["Code"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let qty = line["BaseQuantity"]
                .as_f64()
                .or(line["Quantity"].as_f64())
                .unwrap_or(0.0);
            *out.entry((date.clone(), sku)).or_default() += sign * qty;
        }
    }
    out
}

/// One row of the summary: a day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    pub date: String,
    pub vouchers: usize,
    pub lines: usize,
    pub tplus_qty: f64,
    pub source_qty: f64,
    /// Every SKU of the day matches, not just the day's total.
    pub matches: bool,
}

/// Per-day comparison over every day present on either side.
pub fn by_day(expected: &QtyBySku, dtos: &[Value]) -> Vec<DayRow> {
    let actual = actual(dtos);
    let days: BTreeSet<&String> = expected
        .keys()
        .chain(actual.keys())
        .map(|(d, _)| d)
        .collect();
    days.into_iter()
        .map(|day| {
            let of_day = |m: &QtyBySku| -> BTreeMap<String, f64> {
                m.iter()
                    .filter(|((d, _), _)| d == day)
                    .map(|((_, sku), q)| (sku.clone(), *q))
                    .collect()
            };
            let (want, got) = (of_day(expected), of_day(&actual));
            let vouchers: Vec<&Value> = dtos.iter().filter(|d| d["VoucherDate"] == **day).collect();
            DayRow {
                date: day.clone(),
                vouchers: vouchers.len(),
                lines: vouchers
                    .iter()
                    .map(|d| d["RDRecordDetails"].as_array().map_or(0, Vec::len))
                    .sum(),
                tplus_qty: got.values().sum(),
                source_qty: want.values().sum(),
                matches: same(&want, &got),
            }
        })
        .collect()
}

fn same(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> bool {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().all(|k| {
        let (x, y) = (
            a.get(k).copied().unwrap_or(0.0),
            b.get(k).copied().unwrap_or(0.0),
        );
        (x - y).abs() < 1e-6
    })
}

/// ExternalCodes that occur more than once.
pub fn duplicate_codes(dtos: &[Value]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut dups = BTreeSet::new();
    for code in dtos.iter().filter_map(|d| d["ExternalCode"].as_str()) {
        if !seen.insert(code) {
            dups.insert(code.to_string());
        }
    }
    dups.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compares_per_day_and_sku() {
        let orders = vec![
            json!({"status": "Confirmed", "io_date": "2026-11-25 10:00:00", "items": [{"sku_id": "A", "qty": 2}, {"sku_id": "B", "qty": 1}]}),
            json!({"status": "Cancelled", "io_date": "2026-11-25 11:00:00", "items": [{"sku_id": "A", "qty": 9}]}),
        ];
        let want = expected(&orders, "Confirmed");
        let good = vec![
            json!({"ExternalCode": "X", "VoucherDate": "2026-11-25", "RDRecordDetails": [
            {"Inventory": {"Code": "A"}, "BaseQuantity": 2}, {"Inventory": {"Code": "B"}, "BaseQuantity": 1}]}),
        ];
        let rows = by_day(&want, &good);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].matches);
        assert_eq!(
            (rows[0].vouchers, rows[0].lines, rows[0].tplus_qty),
            (1, 2, 3.0)
        );

        // Same day total, wrong SKUs: not a match.
        let swapped = vec![
            json!({"ExternalCode": "X", "VoucherDate": "2026-11-25", "RDRecordDetails": [
            {"Inventory": {"Code": "A"}, "BaseQuantity": 1}, {"Inventory": {"Code": "B"}, "BaseQuantity": 2}]}),
        ];
        assert!(!by_day(&want, &swapped)[0].matches);
        let twice = vec![good[0].clone(), good[0].clone()];
        assert_eq!(duplicate_codes(&twice), vec!["X".to_string()]);
        assert!(!by_day(&want, &twice)[0].matches);
    }
}
