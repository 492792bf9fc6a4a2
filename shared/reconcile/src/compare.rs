//! The comparison itself: both sides' sums per key into rows, totals and the differing keys,
//! worst first. Pure.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::lines::{Amounts, Key};
use crate::{Row, Totals};

/// Every key present on either side, sorted by key.
pub fn rows(jst: &BTreeMap<Key, Amounts>, tplus: &BTreeMap<Key, Amounts>) -> Vec<Row> {
    let keys: BTreeSet<&Key> = jst.keys().chain(tplus.keys()).collect();
    keys.into_iter()
        .map(|key| {
            let j = jst.get(key).copied().unwrap_or_default();
            let t = tplus.get(key).copied().unwrap_or_default();
            Row {
                date: key.0,
                warehouse: key.1.clone(),
                sku: key.2.clone(),
                jst_qty: j.qty.to_f64(),
                jst_amount: j.amount.to_f64(),
                tplus_qty: t.qty.to_f64(),
                tplus_amount: t.amount.to_f64(),
            }
        })
        .collect()
}

/// Totals over both sides (sums kept exact, then shown as decimals).
pub fn totals(
    jst: &BTreeMap<Key, Amounts>,
    tplus: &BTreeMap<Key, Amounts>,
    jst_orders: u64,
    tplus_vouchers: u64,
) -> Totals {
    let sum = |side: &BTreeMap<Key, Amounts>| {
        let mut total = Amounts::default();
        side.values().for_each(|a| total.add(*a));
        total
    };
    let (j, t) = (sum(jst), sum(tplus));
    Totals {
        jst_orders,
        jst_qty: j.qty.to_f64(),
        jst_amount: j.amount.to_f64(),
        tplus_vouchers,
        tplus_qty: t.qty.to_f64(),
        tplus_amount: t.amount.to_f64(),
    }
}

/// The rows that differ, worst first: by |amount difference|, then |quantity difference|,
/// then by key.
pub fn differing(rows: &[Row]) -> Vec<Row> {
    let mut out: Vec<Row> = rows.iter().filter(|r| r.differs()).cloned().collect();
    out.sort_by(|a, b| {
        let by = |f: fn(&Row) -> f64| {
            f(b).abs()
                .partial_cmp(&f(a).abs())
                .unwrap_or(Ordering::Equal)
        };
        by(Row::amount_diff)
            .then_with(|| by(Row::qty_diff))
            .then_with(|| (a.date, &a.warehouse, &a.sku).cmp(&(b.date, &b.warehouse, &b.sku)))
    });
    out
}

/// The key of a row.
pub fn key_of(row: &Row) -> Key {
    (row.date, row.warehouse.clone(), row.sku.clone())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn key(d: u32, wh: &str, sku: &str) -> Key {
        (
            NaiveDate::from_ymd_opt(2026, 11, d).expect("date"),
            wh.into(),
            sku.into(),
        )
    }

    fn side(entries: &[(Key, f64, f64)]) -> BTreeMap<Key, Amounts> {
        entries
            .iter()
            .map(|(k, q, a)| (k.clone(), Amounts::new(*q, *a)))
            .collect()
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            jst: Vec<(Key, f64, f64)>,
            tplus: Vec<(Key, f64, f64)>,
            rows: usize,
            /// (sku of each differing row, worst first)
            differing: Vec<&'static str>,
        }
        let cases = vec![
            Case {
                name: "equal books",
                jst: vec![(key(25, "1", "A"), 2.0, 3.0), (key(25, "1", "B"), 1.0, 1.0)],
                tplus: vec![(key(25, "1", "A"), 2.0, 3.0), (key(25, "1", "B"), 1.0, 1.0)],
                rows: 2,
                differing: vec![],
            },
            Case {
                name: "empty on both sides",
                jst: vec![],
                tplus: vec![],
                rows: 0,
                differing: vec![],
            },
            Case {
                name: "missing in T+, extra in T+, amounts off; worst amount first",
                jst: vec![
                    (key(25, "1", "A"), 2.0, 3.0),
                    (key(25, "1", "B"), 1.0, 100.0),
                    (key(26, "1", "C"), 1.0, 5.0),
                ],
                tplus: vec![
                    (key(25, "1", "A"), 2.0, 3.5),
                    (key(26, "1", "C"), 1.0, 5.0),
                    (key(26, "2", "D"), 4.0, 0.0),
                ],
                rows: 4,
                differing: vec!["B", "A", "D"],
            },
            Case {
                name: "a difference within the tolerance is none",
                jst: vec![(key(25, "1", "A"), 0.1 + 0.2, 0.3)],
                tplus: vec![(key(25, "1", "A"), 0.3, 0.1 + 0.2)],
                rows: 1,
                differing: vec![],
            },
        ];
        for case in cases {
            let (jst, tplus) = (side(&case.jst), side(&case.tplus));
            let rows = rows(&jst, &tplus);
            assert_eq!(rows.len(), case.rows, "{}", case.name);
            let skus: Vec<String> = differing(&rows).into_iter().map(|r| r.sku).collect();
            assert_eq!(skus, case.differing, "{}", case.name);
        }
    }

    #[test]
    fn totals_add_exactly() {
        let jst = side(&[(key(25, "1", "A"), 0.1, 0.2), (key(25, "1", "B"), 0.2, 0.1)]);
        let tplus = side(&[(key(25, "1", "A"), 0.3, 0.3)]);
        let t = totals(&jst, &tplus, 2, 1);
        assert_eq!((t.jst_qty, t.jst_amount), (0.3, 0.3));
        assert_eq!((t.tplus_qty, t.tplus_amount), (0.3, 0.3));
        assert_eq!((t.jst_orders, t.tplus_vouchers), (2, 1));
    }
}
