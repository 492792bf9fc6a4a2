//! An order changing after it shipped, as an admin knob: it moves to another state (a later
//! shipped state such as `Archive`, or `Cancelled` when the shipment is revoked), or its
//! lines are edited. Like any write in JST, it gets `modified` = now and a fresh `ts`, so a
//! `date_type = 0` (modified) query and `start_ts` paging see it again; `io_date` is kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What changes in one order (`POST /admin/jst/orders/{io_id}/change`). Unset fields stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderChange {
    /// The new status, e.g. `Archive` or `Cancelled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Replaces every line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    /// New quantity of the lines of a `sku_id` (`sale_amount` follows `sale_price`); 0 drops
    /// those lines. Applied after `items`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub qty: BTreeMap<String, i64>,
    /// The `modified` to write (JST local `yyyy-MM-dd HH:mm:ss`); default: now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
}

impl OrderChange {
    /// A move to `status`.
    pub fn status(status: impl Into<String>) -> Self {
        Self {
            status: Some(status.into()),
            ..Self::default()
        }
    }

    /// The quantity of `sku_id`'s lines set to `qty`.
    pub fn qty(sku_id: impl Into<String>, qty: i64) -> Self {
        Self {
            qty: BTreeMap::from([(sku_id.into(), qty)]),
            ..Self::default()
        }
    }

    /// Checks what does not depend on the order.
    pub fn validate(&self) -> Result<(), String> {
        if let Some((sku, qty)) = self.qty.iter().find(|(_, q)| **q < 0) {
            return Err(format!(
                "qty of {sku} is {qty}; give 0 or more (0 drops the line)"
            ));
        }
        if let Some(m) = &self.modified
            && chrono::NaiveDateTime::parse_from_str(m, j2t_domain::JST_TIME_FORMAT).is_err()
        {
            return Err(format!("modified `{m}` is not yyyy-MM-dd HH:mm:ss"));
        }
        Ok(())
    }

    /// Applies the change to `order`, with `now` (JST local) as `modified` unless one is
    /// given. Fails, leaving `order` as it was, when `qty` names a SKU the order lacks.
    pub fn apply(&self, order: &mut Value, now: &str) -> Result<(), String> {
        self.validate()?;
        let mut changed = order.clone();
        let Some(fields) = changed.as_object_mut() else {
            return Err("the order is not a JSON object".into());
        };
        if let Some(status) = &self.status {
            fields.insert("status".into(), status.clone().into());
        }
        if let Some(items) = &self.items {
            fields.insert("items".into(), Value::Array(items.clone()));
        }
        for (sku, qty) in &self.qty {
            set_qty(fields, sku, *qty)?;
        }
        let modified = self.modified.as_deref().unwrap_or(now);
        fields.insert("modified".into(), modified.into());
        *order = changed;
        Ok(())
    }
}

fn set_qty(order: &mut serde_json::Map<String, Value>, sku: &str, qty: i64) -> Result<(), String> {
    let Some(Value::Array(lines)) = order.get_mut("items") else {
        return Err(format!("the order has no items, so no line of {sku}"));
    };
    let is_sku = |line: &Value| line.get("sku_id").and_then(Value::as_str) == Some(sku);
    if !lines.iter().any(is_sku) {
        return Err(format!("the order has no line of {sku}"));
    }
    if qty == 0 {
        lines.retain(|line| !is_sku(line));
        return Ok(());
    }
    for line in lines.iter_mut().filter(|l| is_sku(l)) {
        line["qty"] = qty.into();
        if let Some(price) = line.get("sale_price").and_then(Value::as_f64) {
            line["sale_amount"] = ((price * qty as f64 * 100.0).round() / 100.0).into();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: &str = "2026-11-27 12:00:00";

    fn order() -> Value {
        json!({
            "io_id": 1, "status": "Confirmed", "modified": "2026-11-25 10:00:00",
            "io_date": "2026-11-25 10:00:00",
            "items": [
                {"sku_id": "A", "qty": 2, "sale_price": 1.5, "sale_amount": 3.0},
                {"sku_id": "B", "qty": 1, "sale_price": 4.0, "sale_amount": 4.0},
            ],
        })
    }

    #[test]
    fn a_status_move_sets_modified_and_keeps_io_date() {
        let mut o = order();
        OrderChange::status("Cancelled")
            .apply(&mut o, NOW)
            .expect("applies");
        assert_eq!(
            (&o["status"], &o["modified"], &o["io_date"]),
            (
                &json!("Cancelled"),
                &json!(NOW),
                &json!("2026-11-25 10:00:00")
            )
        );
    }

    #[test]
    fn qty_edits_lines_and_zero_drops_them() {
        let mut o = order();
        let change = OrderChange {
            qty: BTreeMap::from([("A".into(), 5), ("B".into(), 0)]),
            modified: Some("2026-11-28 09:00:00".into()),
            ..OrderChange::default()
        };
        change.apply(&mut o, NOW).expect("applies");
        assert_eq!(o["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            (&o["items"][0]["qty"], &o["items"][0]["sale_amount"]),
            (&json!(5), &json!(7.5))
        );
        assert_eq!(o["modified"], "2026-11-28 09:00:00");
    }

    #[test]
    fn a_bad_change_leaves_the_order_untouched() {
        for (change, needle) in [
            (OrderChange::qty("C", 1), "no line of C"),
            (OrderChange::qty("A", -1), "0 or more"),
            (
                OrderChange {
                    modified: Some("yesterday".into()),
                    ..OrderChange::default()
                },
                "not yyyy-MM-dd",
            ),
        ] {
            let mut o = order();
            let err = change.apply(&mut o, NOW).expect_err("refused");
            assert!(err.contains(needle), "{err}");
            assert_eq!(o, order());
        }
    }
}
