use std::collections::BTreeMap;

use crate::template::Path;

/// All `[value_maps.NAME]` tables of a mapping, by name.
pub type ValueMaps = BTreeMap<String, ValueMap>;

/// A named table that turns a JST value into a T+ one (`wms_co_id` 1 → warehouse `WH01`),
/// applied by a `{field|NAME}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueMap {
    /// JST value, as text → T+ value.
    pub entries: BTreeMap<String, String>,
    /// The value for anything not in `entries`. Without one, an unlisted value rejects the
    /// order: guessing a warehouse or partner would post stock movements to the wrong books.
    pub default: Option<String>,
}

impl ValueMap {
    /// The T+ value for `value` read from `field`, or why there is none.
    pub fn apply(&self, name: &str, field: &Path, value: &str) -> Result<String, String> {
        self.entries
            .get(value)
            .or(self.default.as_ref())
            .cloned()
            .ok_or_else(|| format!("value_maps.{name} has no entry for {field} {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_then_default_then_a_named_miss() {
        let field = Path::parse("wms_co_id", "items").expect("valid");
        let mut map = ValueMap {
            entries: [("1".to_string(), "WH01".to_string())].into(),
            default: None,
        };
        assert_eq!(map.apply("warehouse", &field, "1"), Ok("WH01".into()));
        assert_eq!(
            map.apply("warehouse", &field, "99"),
            Err("value_maps.warehouse has no entry for wms_co_id \"99\"".into())
        );
        map.default = Some("WH00".into());
        assert_eq!(map.apply("warehouse", &field, "99"), Ok("WH00".into()));
    }
}
