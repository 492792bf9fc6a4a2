//! The lines one order brings to T+ (its own mapping, alone), keyed as T+ holds them: what
//! the transformer records per io_id when it claims it, and what a changed order would bring
//! now. Pure.

use std::collections::HashMap;

use j2t_domain::{WrittenLine, WrittenOrder, io_id_of, micro_of};
use j2t_mapping::{Mapping, map_orders};
use j2t_stores::Claim;
use serde_json::Value;

/// The lines `order` maps to, summed per (date, warehouse, SKU). Empty when the mapping
/// rejects it or its conditions leave it out (then it brings nothing to T+).
pub fn order_lines(mapping: &Mapping, order: &Value) -> Vec<WrittenLine> {
    let out = map_orders(mapping, vec![order.clone()], "lines");
    let mut sums: std::collections::BTreeMap<(String, String, String), (i64, i64)> =
        Default::default();
    for voucher in &out.vouchers {
        let dto = if mapping.target.wrapper.is_empty() {
            &voucher.payload
        } else {
            &voucher.payload[&mapping.target.wrapper]
        };
        let date: String = text(&dto["VoucherDate"]).chars().take(10).collect();
        let warehouse = text(&dto["Warehouse"]["Code"]);
        for line in dto[&mapping.target.body_field]
            .as_array()
            .into_iter()
            .flatten()
        {
            let qty = micro_of(&line["BaseQuantity"])
                .or_else(|| micro_of(&line["Quantity"]))
                .unwrap_or_default();
            let amount = micro_of(&line["Amount"]).unwrap_or_default();
            let sum = sums
                .entry((
                    date.clone(),
                    warehouse.clone(),
                    text(&line["Inventory"]["Code"]),
                ))
                .or_default();
            sum.0 += qty;
            sum.1 += amount;
        }
    }
    sums.into_iter()
        .map(
            |((date, warehouse, sku), (qty_micro, amount_micro))| WrittenLine {
                date,
                warehouse,
                sku,
                qty_micro,
                amount_micro,
            },
        )
        .collect()
}

/// JST's row version of an order (0 when absent).
pub fn ts_of(order: &Value) -> i64 {
    order.get("ts").and_then(Value::as_i64).unwrap_or(0)
}

/// Each order's lines by io_id, of the version the merge keeps (the newest `ts`).
pub fn lines_by_io_id(
    mapping: &Mapping,
    orders: &[Value],
) -> HashMap<i64, (i64, Vec<WrittenLine>)> {
    let mut kept: HashMap<i64, (i64, Vec<WrittenLine>)> = HashMap::new();
    for order in orders {
        let Some(io_id) = io_id_of(order) else {
            continue;
        };
        let ts = ts_of(order);
        if kept.get(&io_id).is_some_and(|(k, _)| *k > ts) {
            continue;
        }
        kept.insert(io_id, (ts, order_lines(mapping, order)));
    }
    kept
}

/// The first records of the io_ids claimed for their vouchers.
pub fn written_records(
    claims: &[(i64, Claim)],
    lines: &HashMap<i64, (i64, Vec<WrittenLine>)>,
) -> Vec<WrittenOrder> {
    claims
        .iter()
        .filter_map(|(io_id, claim)| {
            let (ts, lines) = lines.get(io_id)?;
            Some(WrittenOrder {
                io_id: *io_id,
                external_code: claim.external_code.clone(),
                lines: lines.clone(),
                written_ts: *ts,
                seen_ts: *ts,
                history: Vec::new(),
            })
        })
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lines_are_keyed_by_t_plus_codes_and_summed() {
        let mapping = Mapping::builtin();
        let order = json!({"io_id": 1, "ts": 5, "io_date": "2026-11-25 09:00:00", "wms_co_id": 7,
            "status": "Confirmed", "items": [
                {"sku_id": "A", "qty": 2, "sale_amount": 20},
                {"sku_id": "A", "qty": 1, "sale_amount": 10},
                {"sku_id": "B", "qty": 1, "sale_amount": "2.5"}]});
        let lines = order_lines(&mapping, &order);
        let got: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.date.as_str(),
                    l.warehouse.as_str(),
                    l.sku.as_str(),
                    l.qty_micro,
                    l.amount_micro,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("2026-11-25", "7", "A", 3_000_000, 30_000_000),
                ("2026-11-25", "7", "B", 1_000_000, 2_500_000)
            ]
        );
        let newer = json!({"io_id": 1, "ts": 9, "io_date": "2026-11-25 09:00:00", "wms_co_id": 7,
            "items": [{"sku_id": "A", "qty": 1, "sale_amount": 10}]});
        let by_id = lines_by_io_id(&mapping, &[newer, order]);
        assert_eq!(by_id[&1].0, 9, "the newest version is kept");
        assert_eq!(by_id[&1].1.len(), 1);
        assert!(order_lines(&mapping, &json!({"io_id": 2, "items": "no"})).is_empty());
    }
}
