use std::collections::BTreeMap;

use j2t_domain::{VoucherEnvelope, io_id_of};
use serde_json::Value;

use crate::code::external_code;
use crate::decimal::Fixed;
use crate::format;
use crate::render::{render_header, render_line, render_voucher};
use crate::spec::Mapping;
use crate::template::{Path, scalar_text};

/// Vouchers built from a set of orders, and the orders that could not be used.
#[derive(Debug, Clone, PartialEq)]
pub struct MapOutput {
    pub vouchers: Vec<VoucherEnvelope>,
    pub rejected: Vec<RejectedOrder>,
}

/// An order left out whole, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedOrder {
    pub io_id: Option<i64>,
    pub reason: String,
    pub order: Value,
}

/// One order, checked: its key, its lines' keys and summed values.
struct Checked {
    order: Value,
    group: Vec<String>,
    lines: Vec<(Vec<String>, Vec<Fixed>, Value)>,
}

#[derive(Default)]
struct Group {
    orders: Vec<(i64, Value)>,
    /// Line key → (first line seen, sums in `merge.sum` order).
    lines: BTreeMap<Vec<String>, (Value, Vec<Fixed>)>,
}

fn key_text(path: &Path, order: &Value, line: Option<&Value>) -> Result<String, String> {
    match path.get(order, line).map(scalar_text) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(format!("group field `{}` is missing", path.name())),
    }
}

fn check(mapping: &Mapping, mut order: Value) -> Result<Checked, (String, Value)> {
    let original = order.clone();
    let fail = |reason: String| (reason, original.clone());
    format::apply(&mapping.format_response, &mut order).map_err(fail)?;
    let m = &mapping.merge;
    let group = m
        .header_group
        .iter()
        .map(|p| key_text(p, &order, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    render_header(mapping, &order).map_err(fail)?;
    let items = order
        .get(&mapping.target.body_source)
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| {
            fail(format!(
                "`{}` is missing or empty",
                mapping.target.body_source
            ))
        })?;
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |e: String| fail(format!("line {}: {e}", i + 1));
        let key = m
            .line_group
            .iter()
            .map(|p| key_text(p, &order, Some(item)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?;
        let sums = m
            .sum
            .iter()
            .map(|p| {
                let v = p.get(&order, Some(item));
                v.and_then(Fixed::from_json).ok_or_else(|| {
                    format!(
                        "`{}` = {} is not a number",
                        p.name(),
                        v.map_or("nothing".to_string(), Value::to_string)
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?;
        render_line(mapping, &order, item).map_err(at)?;
        lines.push((key, sums, item.clone()));
    }
    Ok(Checked {
        order,
        group,
        lines,
    })
}

/// Keeps one version per io_id: the newest `ts`, ties broken by content, so the choice does
/// not depend on arrival order.
fn dedupe(orders: Vec<Value>, rejected: &mut Vec<RejectedOrder>) -> BTreeMap<i64, Value> {
    let mut by_id: BTreeMap<i64, Value> = BTreeMap::new();
    let rank = |o: &Value| {
        (
            o.get("ts").and_then(Value::as_i64).unwrap_or(0),
            o.to_string(),
        )
    };
    for order in orders {
        let Some(io_id) = io_id_of(&order) else {
            rejected.push(RejectedOrder {
                io_id: None,
                reason: "`io_id` is missing or not a number".into(),
                order,
            });
            continue;
        };
        match by_id.get(&io_id) {
            Some(kept) if rank(kept) >= rank(&order) => {}
            _ => {
                by_id.insert(io_id, order);
            }
        }
    }
    by_id
}

/// Merges `orders` (one window's worth) into vouchers. Deterministic: the same set of orders
/// gives byte-identical vouchers, whatever their order or duplication.
pub fn map_orders(mapping: &Mapping, orders: Vec<Value>, window: &str) -> MapOutput {
    let mut rejected = Vec::new();
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    for (io_id, order) in dedupe(orders, &mut rejected) {
        match check(mapping, order) {
            Err((reason, order)) => rejected.push(RejectedOrder {
                io_id: Some(io_id),
                reason,
                order,
            }),
            Ok(checked) => {
                let group = groups.entry(checked.group).or_default();
                for (key, sums, item) in checked.lines {
                    let entry = group
                        .lines
                        .entry(key)
                        .or_insert_with(|| (item, vec![Fixed::ZERO; sums.len()]));
                    for (total, s) in entry.1.iter_mut().zip(sums) {
                        *total = total.add(s);
                    }
                }
                group.orders.push((io_id, checked.order));
            }
        }
    }

    let mut vouchers = Vec::new();
    for (key, group) in groups {
        match build_group(mapping, &key, group, window) {
            Ok(mut built) => vouchers.append(&mut built),
            // Every order was checked alone; a merged group failing is a mapping bug, so the
            // orders are kept (rejected with the reason), not dropped.
            Err((reason, orders)) => {
                rejected.extend(orders.into_iter().map(|(io_id, order)| RejectedOrder {
                    io_id: Some(io_id),
                    reason: reason.clone(),
                    order,
                }))
            }
        }
    }
    MapOutput { vouchers, rejected }
}

type GroupFailure = (String, Vec<(i64, Value)>);

fn build_group(
    mapping: &Mapping,
    key: &[String],
    group: Group,
    window: &str,
) -> Result<Vec<VoucherEnvelope>, GroupFailure> {
    let m = &mapping.merge;
    let io_ids: Vec<i64> = group.orders.iter().map(|(id, _)| *id).collect();
    let lines: Vec<Value> = group
        .lines
        .into_values()
        .map(|(mut line, sums)| {
            if let Some(obj) = line.as_object_mut() {
                for (path, total) in m.sum.iter().zip(&sums) {
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
            }
            line
        })
        .collect();
    let chunks: Vec<&[Value]> = lines.chunks(m.body_max_line).collect();
    let parts = chunks.len() as u32;
    let first = &group.orders[0].1;
    let mut out = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.into_iter().enumerate() {
        let part = i as u32 + 1;
        let code = external_code(&m.code_prefix, key, &io_ids, part);
        let mut header = first.clone();
        if let Some(obj) = header.as_object_mut() {
            obj.insert("merge_code".into(), Value::String(code.clone()));
            obj.insert("merge_count".into(), Value::from(io_ids.len()));
            let ids: Vec<String> = io_ids.iter().map(i64::to_string).collect();
            obj.insert("merge_io_ids".into(), Value::String(ids.join(",")));
        }
        let payload = match render_voucher(mapping, &header, chunk) {
            Ok(p) => p,
            Err(reason) => return Err((reason, group.orders)),
        };
        out.push(VoucherEnvelope {
            external_code: code,
            group: key.to_vec(),
            part,
            parts,
            io_ids: io_ids.clone(),
            window: window.to_string(),
            payload,
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

    #[test]
    fn merges_by_date_and_sums_per_sku() {
        let m = Mapping::builtin();
        let orders = vec![
            order(
                2,
                "2026-11-25 10:00:00",
                1,
                json!([{"sku_id": "A", "qty": 2, "sale_price": 5, "sale_amount": 10}]),
            ),
            order(
                1,
                "2026-11-25 09:00:00",
                1,
                json!([
                    {"sku_id": "A", "qty": 1, "sale_price": 4, "sale_amount": 4},
                    {"sku_id": "B", "qty": 3, "sale_price": 1, "sale_amount": 3}
                ]),
            ),
            order(
                3,
                "2026-11-26 09:00:00",
                1,
                json!([{"sku_id": "A", "qty": 7, "sale_price": 1, "sale_amount": 7}]),
            ),
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
        let text = crate::DEFAULT_MAPPING_TOML.replace("body_max_line = 200", "body_max_line = 2");
        let m = Mapping::from_toml(&text).expect("valid");
        let items: Vec<Value> = (0..5)
            .map(|i| json!({"sku_id": format!("S{i}"), "qty": 1, "sale_amount": 1}))
            .collect();
        let out = map_orders(
            &m,
            vec![order(1, "2026-11-25 09:00:00", 1, Value::Array(items))],
            "w",
        );
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
}
