//! Orders JST changes after their voucher was written: the lines written per io_id, the
//! change event the fetcher publishes, and the difference between two sets of lines (pure).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line an order brought to T+, keyed as T+ holds it. Quantities and amounts are kept
/// in millionths, so that sums and differences are exact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WrittenLine {
    /// `VoucherDate`, `yyyy-MM-dd`.
    pub date: String,
    /// `Warehouse.Code`.
    pub warehouse: String,
    /// `Inventory.Code`.
    pub sku: String,
    pub qty_micro: i64,
    pub amount_micro: i64,
}

impl WrittenLine {
    pub fn key(&self) -> LineKey {
        (self.date.clone(), self.warehouse.clone(), self.sku.clone())
    }
}

/// (date, warehouse, SKU).
pub type LineKey = (String, String, String);

/// What T+ holds for one io_id, and what happened to it since: kept in `j2t_written`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrittenOrder {
    pub io_id: i64,
    /// The voucher the order was merged into.
    pub external_code: String,
    /// The lines T+ holds for it now (the merged version, then each correction applied).
    pub lines: Vec<WrittenLine>,
    /// JST row version (`ts`) those lines come from.
    pub written_ts: i64,
    /// Newest JST row version handled (corrected, reported or found to change nothing):
    /// a change is handled once.
    pub seen_ts: i64,
    /// What happened after the write, oldest first.
    #[serde(default)]
    pub history: Vec<ChangeRecord>,
}

/// One change after the write and what was done about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub at: DateTime<Utc>,
    /// JST row version of the changed order.
    pub ts: i64,
    /// JST status of the changed order.
    pub status: String,
    /// `corrected`, `reported` or `nothing_to_correct`.
    pub outcome: String,
    /// "SKU qty A → B" per changed line.
    pub summary: String,
    /// The correction vouchers (ExternalCodes), when corrected.
    #[serde(default)]
    pub corrections: Vec<String>,
}

/// Published by the fetcher's change scan (subject `j2t.changes.<task>`): a known order whose
/// JST version is newer than the one handled last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderChanged {
    pub task: String,
    pub io_id: i64,
    pub ts: i64,
    /// The order as JST returns it now.
    pub order: serde_json::Value,
    /// Set when a `changed_after_write` dead letter is replayed: its sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<u64>,
}

/// The change of one (date, warehouse, SKU): what T+ holds and what JST ships now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDelta {
    pub date: String,
    pub warehouse: String,
    pub sku: String,
    pub qty_before: i64,
    pub qty_after: i64,
    pub amount_before: i64,
    pub amount_after: i64,
}

impl LineDelta {
    pub fn qty(&self) -> i64 {
        self.qty_after - self.qty_before
    }

    pub fn amount(&self) -> i64 {
        self.amount_after - self.amount_before
    }

    /// "SKU qty A → B (date, warehouse W)".
    pub fn describe(&self) -> String {
        format!(
            "{} qty {} → {} ({}, warehouse {})",
            self.sku,
            micro_text(self.qty_before),
            micro_text(self.qty_after),
            self.date,
            self.warehouse
        )
    }
}

/// Per (date, warehouse, SKU) where the sums differ, ascending by key: what `after` ships
/// against what `before` wrote. Lines with the same key are summed first.
pub fn line_deltas(before: &[WrittenLine], after: &[WrittenLine]) -> Vec<LineDelta> {
    let mut sums: BTreeMap<LineKey, [i64; 4]> = BTreeMap::new();
    for line in before {
        let s = sums.entry(line.key()).or_default();
        s[0] += line.qty_micro;
        s[2] += line.amount_micro;
    }
    for line in after {
        let s = sums.entry(line.key()).or_default();
        s[1] += line.qty_micro;
        s[3] += line.amount_micro;
    }
    sums.into_iter()
        .filter(|(_, s)| s[0] != s[1] || s[2] != s[3])
        .map(|((date, warehouse, sku), s)| LineDelta {
            date,
            warehouse,
            sku,
            qty_before: s[0],
            qty_after: s[1],
            amount_before: s[2],
            amount_after: s[3],
        })
        .collect()
}

/// A quantity or amount in millionths as a short decimal: 3000000 → "3", 1500000 → "1.5".
pub fn micro_text(micro: i64) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let abs = micro.unsigned_abs();
    let (whole, frac) = (abs / 1_000_000, abs % 1_000_000);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let frac = format!("{frac:06}");
        format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
    }
}

/// Millionths of a JSON number or numeric string (rounded); `None` otherwise.
pub fn micro_of(value: &serde_json::Value) -> Option<i64> {
    let f = match value {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then(|| (f * 1e6).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(date: &str, wh: &str, sku: &str, qty: i64, amount: i64) -> WrittenLine {
        WrittenLine {
            date: date.into(),
            warehouse: wh.into(),
            sku: sku.into(),
            qty_micro: qty * 1_000_000,
            amount_micro: amount * 1_000_000,
        }
    }

    #[test]
    fn deltas_per_date_warehouse_and_sku() {
        let d = "2026-11-25";
        let written = [line(d, "1", "A", 3, 30), line(d, "1", "B", 1, 5)];
        type Case<'a> = (&'a str, Vec<WrittenLine>, Vec<(&'a str, i64, i64)>);
        let cases: [Case; 6] = [
            ("unchanged", written.to_vec(), vec![]),
            ("cancelled", vec![], vec![("A", 3, 0), ("B", 1, 0)]),
            (
                "one sku less",
                vec![line(d, "1", "A", 2, 20), line(d, "1", "B", 1, 5)],
                vec![("A", 3, 2)],
            ),
            (
                "a sku added",
                vec![
                    line(d, "1", "A", 3, 30),
                    line(d, "1", "B", 1, 5),
                    line(d, "1", "C", 4, 8),
                ],
                vec![("C", 0, 4)],
            ),
            (
                "split lines are summed",
                vec![
                    line(d, "1", "A", 1, 10),
                    line(d, "1", "A", 2, 20),
                    line(d, "1", "B", 1, 5),
                ],
                vec![],
            ),
            (
                "price only",
                vec![line(d, "1", "A", 3, 33), line(d, "1", "B", 1, 5)],
                vec![("A", 3, 3)],
            ),
        ];
        for (name, after, want) in cases {
            let got: Vec<_> = line_deltas(&written, &after)
                .iter()
                .map(|d| {
                    (
                        d.sku.clone(),
                        d.qty_before / 1_000_000,
                        d.qty_after / 1_000_000,
                    )
                })
                .collect();
            let want: Vec<_> = want
                .iter()
                .map(|(s, a, b)| (s.to_string(), *a, *b))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_moved_date_or_warehouse_is_two_deltas() {
        let before = [line("2026-11-25", "1", "A", 3, 30)];
        let after = [line("2026-11-26", "1", "A", 3, 30)];
        let deltas = line_deltas(&before, &after);
        assert_eq!(deltas.len(), 2);
        assert_eq!((deltas[0].qty(), deltas[1].qty()), (-3_000_000, 3_000_000));
        assert_eq!(
            deltas[0].describe(),
            "A qty 3 → 0 (2026-11-25, warehouse 1)"
        );
    }

    #[test]
    fn micro_text_is_short() {
        assert_eq!(micro_text(3_000_000), "3");
        assert_eq!(micro_text(-1_500_000), "-1.5");
        assert_eq!(micro_text(10), "0.00001");
        assert_eq!(micro_of(&serde_json::json!("2.5")), Some(2_500_000));
    }
}
