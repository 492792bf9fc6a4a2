use j2t_mapping::{MapOutput, map_orders};
use serde_json::json;

use crate::support::{builtin_plus, builtin_with, line, order};

const WAREHOUSES: &str = r#"
[value_maps.warehouse]
entries = { "1" = "WH01", "2" = "WH02" }
"#;

fn mapped(extra: &str, orders: Vec<serde_json::Value>) -> MapOutput {
    let text = builtin_with(
        "value = \"{wms_co_id}\"",
        "value = \"{wms_co_id|warehouse}\"",
    );
    let m = j2t_mapping::Mapping::from_toml(&format!("{text}\n{extra}")).expect("valid");
    map_orders(&m, orders, "w")
}

#[test]
fn a_value_with_no_entry_rejects_the_whole_order_and_names_map_value_and_order() {
    let out = mapped(
        WAREHOUSES,
        vec![
            order(1, "2026-11-25", 1, json!([line("A", 2, 2.0)])),
            order(
                2,
                "2026-11-25",
                99,
                json!([line("A", 5, 5.0), line("B", 1, 1.0)]),
            ),
            order(3, "2026-11-25", 1, json!([line("A", 1, 1.0)])),
        ],
    );
    assert_eq!(out.rejected.len(), 1);
    let r = &out.rejected[0];
    assert_eq!(r.io_id, Some(2));
    assert_eq!(
        r.reason,
        "order 2: `Warehouse.Code` (仓库): value_maps.warehouse has no entry for wms_co_id \"99\""
    );
    assert_eq!(r.order["wms_co_id"], 99, "the order as JST sent it");
    // The rest of the group proceeds, mapped.
    assert_eq!(out.vouchers.len(), 1);
    let v = &out.vouchers[0];
    assert_eq!(v.io_ids, vec![1, 3]);
    assert_eq!(v.payload["dto"]["Warehouse"]["Code"], "WH01");
    assert_eq!(
        v.payload["dto"]["RDRecordDetails"][0]["BaseQuantity"], 3,
        "nothing of order 2"
    );
}

#[test]
fn a_default_catches_unlisted_values() {
    let out = mapped(
        &format!("{WAREHOUSES}default = \"WH00\"\n"),
        vec![order(2, "2026-11-25", 99, json!([line("A", 5, 5.0)]))],
    );
    assert!(out.rejected.is_empty());
    assert_eq!(out.vouchers[0].payload["dto"]["Warehouse"]["Code"], "WH00");
}

#[test]
fn maps_work_in_body_rows_and_mixed_templates() {
    let m = builtin_plus(
        r#"
[value_maps.sku]
entries = { "A" = "INV-A" }
"#,
    );
    // The built-in rows do not use the map; the same mapping with a row that does:
    let text = builtin_with(
        "value = \"{items.sku_id}\"",
        "value = \"T+{items.sku_id|sku}\"",
    );
    let with_row = j2t_mapping::Mapping::from_toml(&format!(
        "{text}\n[value_maps.sku]\nentries = {{ \"A\" = \"INV-A\" }}\n"
    ))
    .expect("valid");
    let orders = vec![order(1, "2026-11-25", 1, json!([line("A", 1, 1.0)]))];
    let plain = map_orders(&m, orders.clone(), "w");
    assert_eq!(
        plain.vouchers[0].payload["dto"]["RDRecordDetails"][0]["Inventory"]["Code"],
        "A"
    );
    let out = map_orders(&with_row, orders, "w");
    assert_eq!(
        out.vouchers[0].payload["dto"]["RDRecordDetails"][0]["Inventory"]["Code"],
        "T+INV-A"
    );
}
