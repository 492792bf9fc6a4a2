use j2t_mapping::map_orders;
use serde_json::json;

use crate::support::{builtin_plus, line, lines, order};

fn gift(sku: &str, qty: i64) -> serde_json::Value {
    json!({"sku_id": sku, "qty": qty, "sale_price": 0, "sale_amount": 0, "is_gift": true})
}

#[test]
fn skipped_lines_and_orders_are_counted_not_rejected() {
    let m = builtin_plus(
        r#"
[[conditions]]
label = "no gifts"
scope = "line"
skip_if = { field = "items.is_gift", equals = true }

[[conditions]]
scope = "order"
keep_if = { field = "status", in = ["Confirmed"] }
"#,
    );
    let mut cancelled = order(3, "2026-11-25", 1, json!([line("A", 7, 7.0)]));
    cancelled["status"] = json!("Cancelled");
    let out = map_orders(
        &m,
        vec![
            order(1, "2026-11-25", 1, json!([line("A", 2, 2.0), gift("G", 1)])),
            order(2, "2026-11-25", 1, json!([gift("G", 4)])),
            cancelled,
            order(4, "2026-11-25", 1, json!([line("A", 1, 1.0)])),
        ],
        "w",
    );
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let skipped: Vec<(i64, &str)> = out
        .skipped_orders
        .iter()
        .map(|s| (s.io_id, s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                2,
                "every line was left out (conditions[0] (no gifts): skip_if items.is_gift equals true)"
            ),
            (
                3,
                "conditions[1]: keep_if status in [\"Confirmed\"] is not met"
            ),
        ]
    );
    assert_eq!(out.skipped_lines.len(), 1);
    assert_eq!(
        (out.skipped_lines[0].io_id, out.skipped_lines[0].line),
        (1, 2)
    );

    assert_eq!(out.vouchers.len(), 1);
    let v = &out.vouchers[0];
    assert_eq!(
        v.io_ids,
        vec![1, 4],
        "skipped orders are not in the lineage"
    );
    let lines = lines(&v.payload);
    assert_eq!(lines.len(), 1, "no gift line");
    assert_eq!(lines[0]["BaseQuantity"], 3);
}

#[test]
fn a_skipped_line_is_not_validated_but_a_kept_bad_line_rejects_the_order() {
    let m = builtin_plus(
        r#"
[[conditions]]
scope = "line"
skip_if = { field = "items.sku_id", is_empty = true }
"#,
    );
    let out = map_orders(
        &m,
        vec![
            order(1, "2026-11-25", 1, json!([line("A", 1, 1.0), {"qty": "x"}])),
            order(
                2,
                "2026-11-25",
                1,
                json!([line("A", 1, 1.0), {"sku_id": "B", "qty": "x"}]),
            ),
        ],
        "w",
    );
    assert_eq!(out.skipped_lines.len(), 1);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].io_id, Some(2));
    assert!(
        out.rejected[0].reason.contains("line 2"),
        "{}",
        out.rejected[0].reason
    );
    assert!(out.skipped_orders.is_empty());
}
