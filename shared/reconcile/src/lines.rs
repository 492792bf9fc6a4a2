//! Voucher lines as (date, warehouse, SKU) → quantity and amount, read alike from what the
//! mapping would write (its rendered payload) and from what T+ holds (read back), so both
//! sides are keyed by T+'s codes. Pure.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use j2t_mapping::Mapping;
use serde_json::Value;

/// (voucher date, `Warehouse.Code`, `Inventory.Code`).
pub type Key = (NaiveDate, String, String);

/// Sums kept in millionths, so that adding many decimals is exact and order-independent
/// (floats are neither); shown as `f64` in the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Micro(pub i128);

impl Micro {
    pub fn from_f64(value: f64) -> Self {
        if value.is_finite() {
            Micro((value * 1e6).round() as i128)
        } else {
            Micro(0)
        }
    }

    pub fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => n.as_f64().map(Self::from_f64),
            Value::String(s) => s.trim().parse::<f64>().ok().map(Self::from_f64),
            _ => None,
        }
    }

    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// Quantity and amount of one line, or a sum of lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amounts {
    pub qty: Micro,
    pub amount: Micro,
}

impl Amounts {
    #[cfg(test)]
    pub fn new(qty: f64, amount: f64) -> Self {
        Amounts {
            qty: Micro::from_f64(qty),
            amount: Micro::from_f64(amount),
        }
    }

    pub fn add(&mut self, other: Amounts) {
        self.qty.0 += other.qty.0;
        self.amount.0 += other.amount.0;
    }
}

/// T+'s `BusiType` of a return (其他退货): its quantities count negative.
pub const RETURN_BUSI_TYPE: &str = "14";

/// The lines of one voucher `dto` (`VoucherDate`, `Warehouse.Code`, the body's
/// `Inventory.Code`, `BaseQuantity` (or `Quantity`), `Amount`), summed per key. `None`
/// when the header has no readable date.
pub fn dto_lines(dto: &Value, body_field: &str) -> Option<Vec<(Key, Amounts)>> {
    let date = dto.get("VoucherDate").and_then(Value::as_str)?;
    let date = NaiveDate::parse_from_str(date.get(..10).unwrap_or(date), "%Y-%m-%d").ok()?;
    let warehouse = text(&dto["Warehouse"]["Code"]);
    // A return (其他退货, a correction voucher of ours) takes back what was shipped.
    let sign = if text(&dto["BusiType"]["Code"]) == RETURN_BUSI_TYPE {
        -1
    } else {
        1
    };
    let mut sums: BTreeMap<Key, Amounts> = BTreeMap::new();
    for line in dto[body_field].as_array().into_iter().flatten() {
        let sku = text(&line["Inventory"]["Code"]);
        let qty = Micro::from_json(&line["BaseQuantity"])
            .or_else(|| Micro::from_json(&line["Quantity"]))
            .unwrap_or_default();
        let amount = Micro::from_json(&line["Amount"]).unwrap_or_default();
        let (qty, amount) = (Micro(qty.0 * sign), Micro(amount.0 * sign));
        sums.entry((date, warehouse.clone(), sku))
            .or_default()
            .add(Amounts { qty, amount });
    }
    Some(sums.into_iter().collect())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What the mapping would write for one JST order: its lines keyed by T+ codes. Empty when
/// the mapping rejects the order or its conditions leave it out (it is never written, so it
/// is not expected in T+).
pub fn expected_of_order(mapping: &Mapping, order: Value) -> Vec<(Key, Amounts)> {
    let out = j2t_mapping::map_orders(mapping, vec![order], "reconcile");
    let mut lines = Vec::new();
    for voucher in &out.vouchers {
        let dto = if mapping.target.wrapper.is_empty() {
            &voucher.payload
        } else {
            &voucher.payload[&mapping.target.wrapper]
        };
        lines.extend(dto_lines(dto, &mapping.target.body_field).unwrap_or_default());
    }
    lines
}

/// The voucher date an ExternalCode starts with, when the mapping puts the date first in its
/// group (`{prefix}{yyyyMMdd}-…`): lets reconcile skip reading vouchers of other days.
pub fn date_of_code(mapping: &Mapping, code: &str) -> Option<NaiveDate> {
    // Correction vouchers always start with their date.
    if let Some(head) = code.strip_prefix(&mapping.corrections.code_prefix)
        && let Some(date) = head
            .get(..8)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
    {
        return Some(date);
    }
    if !date_first(mapping) {
        return None;
    }
    let head = code.strip_prefix(&mapping.merge.code_prefix)?;
    NaiveDate::parse_from_str(head.get(..8)?, "%Y%m%d").ok()
}

/// Whether the mapping's first header group value is a date made by `format_response`.
fn date_first(mapping: &Mapping) -> bool {
    let Some(first) = mapping.merge.header_group.first() else {
        return false;
    };
    mapping
        .format_response
        .iter()
        .any(|rule| rule.format == j2t_mapping::FormatKind::Date && rule.new == first.name())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
    }

    #[test]
    fn an_order_is_keyed_by_what_the_mapping_writes() {
        let mapping = Mapping::builtin();
        let order = json!({
            "io_id": 7, "io_date": "2026-11-25 09:00:00", "wms_co_id": 1001, "status": "Confirmed",
            "items": [
                {"sku_id": "A", "qty": 2, "sale_amount": 3.5},
                {"sku_id": "A", "qty": 1, "sale_amount": 1.25},
                {"sku_id": "B", "qty": 1, "sale_amount": 10}
            ]
        });
        let lines = expected_of_order(&mapping, order);
        assert_eq!(
            lines,
            vec![
                (
                    (day(25), "1001".into(), "A".into()),
                    Amounts::new(3.0, 4.75)
                ),
                (
                    (day(25), "1001".into(), "B".into()),
                    Amounts::new(1.0, 10.0)
                ),
            ]
        );
        // An order the mapping cannot write is not expected.
        let bad = json!({"io_id": 8, "io_date": "", "wms_co_id": 1, "items": []});
        assert!(expected_of_order(&mapping, bad).is_empty());
    }

    #[test]
    fn lines_read_back_from_tplus() {
        let dto = json!({
            "VoucherDate": "2026-11-25", "Warehouse": {"Code": "1001"},
            "RDRecordDetails": [
                {"Inventory": {"Code": "A"}, "BaseQuantity": 2, "Amount": "3.5"},
                {"Inventory": {"Code": "A"}, "Quantity": 1, "Amount": 1},
                {"Inventory": {"Code": "B"}, "BaseQuantity": 1}
            ]
        });
        assert_eq!(
            dto_lines(&dto, "RDRecordDetails"),
            Some(vec![
                ((day(25), "1001".into(), "A".into()), Amounts::new(3.0, 4.5)),
                ((day(25), "1001".into(), "B".into()), Amounts::new(1.0, 0.0)),
            ])
        );
        assert_eq!(
            dto_lines(&json!({"VoucherDate": "x"}), "RDRecordDetails"),
            None
        );
    }

    #[test]
    fn the_date_head_of_a_code() {
        let mapping = Mapping::builtin();
        assert_eq!(
            date_of_code(&mapping, "JT20261125-4K7ZQ0M2XA-1"),
            Some(day(25))
        );
        assert_eq!(date_of_code(&mapping, "XX20261125-4K7ZQ0M2XA-1"), None);
        assert_eq!(date_of_code(&mapping, "JTABC-4K7ZQ0M2XA-1"), None);
    }

    #[test]
    fn sums_are_exact() {
        let mut total = Amounts::default();
        for _ in 0..10 {
            total.add(Amounts::new(0.1, 0.1));
        }
        assert_eq!(total, Amounts::new(1.0, 1.0));
    }
}
