//! The merge (the article's `operation: merge`): prepared orders grouped by the header keys,
//! their lines merged by the line keys with `$sum`s, split at `body_max_line`, each part
//! rendered through the field rows with its own ExternalCode.

use std::collections::BTreeMap;

use j2t_domain::VoucherEnvelope;
use serde_json::Value;

use crate::code::external_code;
use crate::decimal::Fixed;
use crate::output::{MapOutput, RejectedOrder, SkippedOrder};
use crate::prepare::{Prepared, dedupe, prepare};
use crate::render::render_voucher;
use crate::spec::{Mapping, MergeSpec};
use crate::template::Path;

/// Most parts one group may be split into: the part number is at most 3 digits of the
/// ExternalCode (≤ 30 characters).
const MAX_PARTS: usize = 999;

/// An order in a group.
struct Member {
    io_id: i64,
    /// As JST sent it, for the dead-letter stream.
    original: Value,
    /// After `format_response`, for the header.
    formatted: Value,
}

#[derive(Default)]
struct Group {
    /// Ascending by io_id.
    orders: Vec<Member>,
    /// Line key → (first line seen, sums in `merge.sum` order).
    lines: BTreeMap<Vec<String>, (Value, Vec<Fixed>)>,
}

/// Merges `orders` (one window's worth) into vouchers. Deterministic: the same set of orders
/// gives byte-identical vouchers, whatever their order or duplication.
pub fn map_orders(mapping: &Mapping, orders: Vec<Value>, window: &str) -> MapOutput {
    let mut out = MapOutput::default();
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    for (io_id, original) in dedupe(orders, &mut out.rejected) {
        match prepare(mapping, io_id, original.clone()) {
            Prepared::Rejected(reason) => out.rejected.push(RejectedOrder {
                io_id: Some(io_id),
                reason: format!("order {io_id}: {reason}"),
                order: original,
            }),
            Prepared::Skipped(reason) => out.skipped_orders.push(SkippedOrder { io_id, reason }),
            Prepared::Ready(ready) => {
                let group = groups.entry(ready.group).or_default();
                for line in ready.lines {
                    let entry = group
                        .lines
                        .entry(line.key)
                        .or_insert_with(|| (line.item, vec![Fixed::ZERO; line.sums.len()]));
                    for (total, s) in entry.1.iter_mut().zip(line.sums) {
                        *total = total.add(s);
                    }
                }
                out.skipped_lines.extend(ready.skipped_lines);
                group.orders.push(Member {
                    io_id,
                    original,
                    formatted: ready.order,
                });
            }
        }
    }

    for (key, group) in groups {
        match build_group(mapping, &key, &group, window) {
            Ok(mut built) => out.vouchers.append(&mut built),
            // Every order was checked alone; a merged group failing is a mapping bug or an
            // oversized group, so the orders are kept (rejected with the reason), not dropped.
            Err(reason) => out
                .rejected
                .extend(group.orders.into_iter().map(|o| RejectedOrder {
                    io_id: Some(o.io_id),
                    reason: format!("order {}: {reason}", o.io_id),
                    order: o.original,
                })),
        }
    }
    out
}

/// A merged line: the first line seen with its sums written in, and the price derived.
fn merged_line(m: &MergeSpec, mut line: Value, sums: &[Fixed]) -> Value {
    let Some(obj) = line.as_object_mut() else {
        return line;
    };
    for (path, total) in m.sum.iter().zip(sums) {
        obj.insert(path.name().to_string(), total.to_json());
    }
    if let Some(d) = &m.derive_price {
        let get = |p: &Path| {
            m.sum
                .iter()
                .position(|s| s == p)
                .map(|i| sums[i])
                .or_else(|| obj.get(p.name()).and_then(Fixed::from_json))
        };
        if let (Some(amount), Some(qty)) = (get(&d.amount), get(&d.quantity))
            && let Some(price) = amount.div(qty, d.decimals)
        {
            obj.insert(d.price.name().to_string(), price.to_json());
        }
    }
    line
}

/// The fields the merge offers to header and body rows (`fields::MERGE`).
pub(crate) fn add_merge_fields(order: &mut Value, code: &str, io_ids: &[i64]) {
    if let Some(obj) = order.as_object_mut() {
        let ids: Vec<String> = io_ids.iter().map(i64::to_string).collect();
        obj.insert("merge_code".into(), Value::String(code.to_string()));
        obj.insert("merge_count".into(), Value::from(io_ids.len()));
        obj.insert("merge_io_ids".into(), Value::String(ids.join(",")));
    }
}

fn build_group(
    mapping: &Mapping,
    key: &[String],
    group: &Group,
    window: &str,
) -> Result<Vec<VoucherEnvelope>, String> {
    let m = &mapping.merge;
    let io_ids: Vec<i64> = group.orders.iter().map(|o| o.io_id).collect();
    let lines: Vec<Value> = group
        .lines
        .values()
        .map(|(line, sums)| merged_line(m, line.clone(), sums))
        .collect();
    let chunks: Vec<&[Value]> = lines.chunks(m.body_max_line).collect();
    if chunks.len() > MAX_PARTS {
        return Err(format!(
            "the group {key:?} needs {} vouchers of {} lines; at most {MAX_PARTS} get distinct \
             ExternalCodes (raise merge.body_max_line)",
            chunks.len(),
            m.body_max_line
        ));
    }
    let parts = chunks.len() as u32;
    // The header comes from the group's first order (lowest io_id): any order would do for
    // the group keys, the lowest makes the other fields (e.g. Memo) deterministic.
    let first = group
        .orders
        .first()
        .map(|o| &o.formatted)
        .ok_or("empty group")?;
    let mut out = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.into_iter().enumerate() {
        let part = i as u32 + 1;
        let code = external_code(&m.code_prefix, key, &io_ids, part);
        let mut header = first.clone();
        add_merge_fields(&mut header, &code, &io_ids);
        out.push(VoucherEnvelope {
            payload: render_voucher(mapping, &header, chunk)?,
            external_code: code,
            group: key.to_vec(),
            part,
            parts,
            io_ids: io_ids.clone(),
            window: window.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(io_id: i64, date: &str, wh: i64, items: Value) -> Value {
        json!({"io_id": io_id, "io_date": date, "wms_co_id": wh, "remark": "r", "ts": io_id, "items": items})
    }

    /// One order with `skus` lines of one each, mapped with `body_max_line` lines a voucher.
    fn one_order_of_skus(body_max_line: usize, skus: std::ops::Range<usize>) -> MapOutput {
        let text = crate::DEFAULT_MAPPING_TOML.replace(
            "body_max_line = 200",
            &format!("body_max_line = {body_max_line}"),
        );
        let m = Mapping::from_toml(&text).expect("valid");
        let items: Vec<Value> = skus
            .map(|i| json!({"sku_id": format!("S{i}"), "qty": 1, "sale_amount": 1}))
            .collect();
        let orders = vec![order(1, "2026-11-25 09:00:00", 1, Value::Array(items))];
        map_orders(&m, orders, "w")
    }

    fn line(sku: &str, qty: i64, amount: i64) -> Value {
        json!({"sku_id": sku, "qty": qty, "sale_price": amount / qty, "sale_amount": amount})
    }

    #[test]
    fn merges_by_date_and_sums_per_sku() {
        let m = Mapping::builtin();
        let (a, b) = (
            |qty, amount| line("A", qty, amount),
            |qty, amount| line("B", qty, amount),
        );
        let orders = vec![
            order(2, "2026-11-25 10:00:00", 1, json!([a(2, 10)])),
            order(1, "2026-11-25 09:00:00", 1, json!([a(1, 4), b(3, 3)])),
            order(3, "2026-11-26 09:00:00", 1, json!([a(7, 7)])),
        ];
        let out = map_orders(&m, orders.clone(), "w");
        assert!(out.rejected.is_empty());
        assert_eq!(out.vouchers.len(), 2);
        let v = &out.vouchers[0];
        assert_eq!(v.io_ids, vec![1, 2]);
        let dto = &v.payload["dto"];
        assert_eq!(dto["VoucherDate"], "2026-11-25");
        assert_eq!(dto["ExternalCode"], json!(v.external_code));
        assert_eq!(dto["VoucherType"]["Code"], "ST1024");
        assert_eq!(dto["Warehouse"]["Code"], "1");
        let lines = dto["RDRecordDetails"].as_array().expect("lines");
        assert_eq!(lines[0]["Inventory"]["Code"], "A");
        assert_eq!(lines[0]["BaseQuantity"], json!(3));
        assert_eq!(lines[0]["Amount"], json!(14));
        assert_eq!(lines[0]["Price"], json!(4.6667));
        assert_eq!(lines[1]["BaseQuantity"], json!(3));

        let mut reversed = orders;
        reversed.reverse();
        assert_eq!(
            map_orders(&m, reversed, "w"),
            out,
            "order of input must not matter"
        );
    }

    #[test]
    fn a_bad_order_is_rejected_whole_and_the_rest_proceeds() {
        let m = Mapping::builtin();
        let orders = vec![
            order(
                1,
                "2026-11-25 09:00:00",
                1,
                json!([{"sku_id": "A", "qty": 1, "sale_amount": 1}]),
            ),
            order(
                2,
                "2026-11-25 09:00:00",
                1,
                json!([
                    {"sku_id": "A", "qty": 5, "sale_amount": 1},
                    {"sku_id": "B", "qty": "many", "sale_amount": 1}
                ]),
            ),
            order(
                3,
                "not a date",
                1,
                json!([{"sku_id": "A", "qty": 1, "sale_amount": 1}]),
            ),
            order(
                4,
                "2026-11-25 09:00:00",
                1,
                json!([{"qty": 1, "sale_amount": 1}]),
            ),
        ];
        let out = map_orders(&m, orders, "w");
        let rejected: Vec<_> = out
            .rejected
            .iter()
            .map(|r| (r.io_id, r.reason.clone()))
            .collect();
        assert_eq!(rejected.len(), 3, "{rejected:?}");
        assert!(
            rejected[0].1.contains("line 2") && rejected[0].1.contains("qty"),
            "{rejected:?}"
        );
        assert!(rejected[1].1.contains("io_date"), "{rejected:?}");
        assert!(rejected[2].1.contains("sku_id"), "{rejected:?}");
        assert_eq!(out.vouchers.len(), 1);
        let lines = out.vouchers[0].payload["dto"]["RDRecordDetails"]
            .as_array()
            .expect("lines")
            .clone();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            lines[0]["BaseQuantity"],
            json!(1),
            "order 2 must not be half-included"
        );
    }

    #[test]
    fn oversized_groups_split_with_their_own_codes() {
        let out = one_order_of_skus(2, 0..5);
        assert_eq!(out.vouchers.len(), 3);
        let codes: std::collections::BTreeSet<_> = out
            .vouchers
            .iter()
            .map(|v| v.external_code.clone())
            .collect();
        assert_eq!(codes.len(), 3);
        assert!(out.vouchers.iter().all(|v| v.parts == 3));
    }

    #[test]
    fn duplicates_of_an_order_count_once() {
        let m = Mapping::builtin();
        let o = order(
            1,
            "2026-11-25 09:00:00",
            1,
            json!([{"sku_id": "A", "qty": 2, "sale_amount": 2}]),
        );
        let out = map_orders(&m, vec![o.clone(), o], "w");
        assert_eq!(
            out.vouchers[0].payload["dto"]["RDRecordDetails"][0]["BaseQuantity"],
            json!(2)
        );
    }

    #[test]
    fn a_group_too_big_for_distinct_codes_is_rejected_not_truncated() {
        let out = one_order_of_skus(1, 0..MAX_PARTS + 1);
        assert!(out.vouchers.is_empty());
        assert_eq!(out.rejected.len(), 1);
        assert!(
            out.rejected[0].reason.contains("needs 1000 vouchers"),
            "{}",
            out.rejected[0].reason
        );
    }

    #[test]
    fn rows_reading_merge_fields_may_be_required() {
        let text = crate::DEFAULT_MAPPING_TOML.replace(
            "value = \"{merge_code}\"",
            "value = \"{merge_code}\"\nrequired = true",
        );
        let m = Mapping::from_toml(&text).expect("valid");
        let items = json!([{"sku_id": "A", "qty": 1, "sale_amount": 1}]);
        let out = map_orders(&m, vec![order(1, "2026-11-25 09:00:00", 1, items)], "w");
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        assert_eq!(
            out.vouchers[0].payload["dto"]["ExternalCode"],
            json!(out.vouchers[0].external_code)
        );
    }
}
