use j2t_mapping::{DEFAULT_MAPPING_TOML, Mapping};
use serde_json::{Value, json};

/// The built-in mapping with one piece of text replaced (which must be there).
pub fn builtin_with(from: &str, to: &str) -> String {
    assert!(
        DEFAULT_MAPPING_TOML.contains(from),
        "{from:?} not in the mapping"
    );
    DEFAULT_MAPPING_TOML.replacen(from, to, 1)
}

/// The built-in mapping plus some TOML (sections it does not have yet).
pub fn builtin_plus(extra: &str) -> Mapping {
    Mapping::from_toml(&format!("{DEFAULT_MAPPING_TOML}\n{extra}")).expect("valid mapping")
}

/// The example mapping of MAPPING.md: the first ```toml block after `<!-- example mapping -->`.
pub fn documented_example() -> String {
    let doc = include_str!("../../MAPPING.md");
    let (_, after) = doc
        .split_once("<!-- example mapping -->")
        .expect("MAPPING.md marks its example");
    let (_, block) = after.split_once("```toml\n").expect("a toml block");
    let (toml, _) = block.split_once("```").expect("closed block");
    toml.to_string()
}

/// A JST outbound order with the fields the mappings read.
pub fn order(io_id: i64, date: &str, warehouse: i64, items: Value) -> Value {
    json!({
        "io_id": io_id, "io_date": format!("{date} 10:00:00"), "wms_co_id": warehouse,
        "shop_id": 10001, "status": "Confirmed", "remark": format!("r{io_id}"), "ts": io_id,
        "items": items,
    })
}

pub fn line(sku: &str, qty: i64, amount: f64) -> Value {
    json!({"sku_id": sku, "qty": qty, "sale_price": 1, "sale_amount": amount, "is_gift": false})
}

/// The lines of a voucher's payload.
pub fn lines(payload: &Value) -> &Vec<Value> {
    payload["dto"]["RDRecordDetails"]
        .as_array()
        .expect("RDRecordDetails is a list")
}
