//! The master-data check of a window's orders, one order at a time: each order is mapped
//! alone, so the codes found are exactly those it brings to its voucher (a merged voucher
//! takes its header and each line from one of its orders). Pure; `plan` decides from it.

use std::collections::{BTreeSet, HashMap};

use j2t_domain::io_id_of;
use j2t_mapping::{Mapping, map_orders};
use serde_json::Value;

use crate::master_data::{CodeKind, CodePaths, Codes, UnknownCode};

/// What the check found for the orders that map (the others are rejected or skipped by the
/// merge as before), by io_id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Screening {
    pub orders: HashMap<i64, Screened>,
}

/// One order: its merge group and the codes T+ lacks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Screened {
    pub group: Vec<String>,
    pub unknown: BTreeSet<UnknownCode>,
}

impl Screening {
    /// Whether any order names a code T+ lacks.
    pub fn any_unknown(&self) -> bool {
        self.orders.values().any(|s| !s.unknown.is_empty())
    }

    /// Forgets the codes a newer copy of the master data knows.
    pub fn recheck(&mut self, known: &Codes) {
        for screened in self.orders.values_mut() {
            screened.unknown.retain(|c| match c.kind {
                CodeKind::Warehouse => !known.warehouses.contains(&c.code),
                CodeKind::Inventory => !known.inventories.contains(&c.code),
            });
        }
    }
}

/// Maps each order alone and checks its codes against `known`. Several versions of one
/// io_id: the group is that of the version the merge keeps (newest `ts`, ties broken by
/// content, as `j2t_mapping` does), the unknown codes those of any version.
pub fn screen(
    mapping: &Mapping,
    window: &str,
    orders: &[Value],
    known: &Codes,
    paths: &CodePaths,
) -> Screening {
    let mut screening = Screening::default();
    let mut kept_rank: HashMap<i64, (i64, String)> = HashMap::new();
    for order in orders {
        let Some(io_id) = io_id_of(order) else {
            continue;
        };
        // One order at a time, so only one copy is alive beside the window.
        let out = map_orders(mapping, vec![order.clone()], window);
        let Some(first) = out.vouchers.first() else {
            continue;
        };
        let entry = screening.orders.entry(io_id).or_default();
        for voucher in &out.vouchers {
            entry
                .unknown
                .extend(known.unknown_in(paths, &voucher.payload));
        }
        let rank = (
            order.get("ts").and_then(Value::as_i64).unwrap_or(0),
            order.to_string(),
        );
        if kept_rank.get(&io_id).is_none_or(|kept| *kept < rank) {
            entry.group = first.group.clone();
            kept_rank.insert(io_id, rank);
        }
    }
    screening
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn order(io_id: i64, wh: i64, skus: &[&str]) -> Value {
        let items: Vec<Value> = skus
            .iter()
            .map(|s| json!({"sku_id": s, "qty": 1, "sale_amount": 1}))
            .collect();
        json!({"io_id": io_id, "io_date": "2026-11-25 09:00:00", "wms_co_id": wh,
               "status": "Confirmed", "items": items})
    }

    #[test]
    fn each_order_is_checked_for_its_own_codes() {
        let mapping = Mapping::builtin();
        let known = Codes {
            warehouses: ["1".to_string()].into(),
            inventories: ["A".to_string(), "B".to_string()].into(),
        };
        let orders = [
            order(1, 1, &["A", "B"]),
            order(2, 1, &["A", "X"]),
            order(3, 9, &["X", "Y"]),
            json!({"io_id": 4, "items": "not a list"}),
        ];
        let mut s = screen(&mapping, "w", &orders, &known, &CodePaths::of(&mapping));
        assert!(s.any_unknown());
        assert_eq!(
            s.orders.len(),
            3,
            "the unmappable order is left to the merge"
        );
        assert!(s.orders[&1].unknown.is_empty());
        let names = |id: i64, s: &Screening| -> Vec<String> {
            s.orders[&id]
                .unknown
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(names(2, &s), ["inventory `X`"]);
        assert_eq!(
            names(3, &s),
            ["warehouse `9`", "inventory `X`", "inventory `Y`"]
        );
        assert_eq!(s.orders[&3].group, ["2026-11-25", "9"]);

        let mut newer = known.clone();
        newer.inventories.insert("X".into());
        s.recheck(&newer);
        assert!(s.orders[&2].unknown.is_empty());
        assert_eq!(names(3, &s), ["warehouse `9`", "inventory `Y`"]);
    }
}
