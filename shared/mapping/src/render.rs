use serde_json::{Map, Value};

use crate::decimal::Fixed;
use crate::spec::{FieldRow, FieldType, Mapping};
use crate::template::scalar_text;
use crate::value_map::ValueMaps;

/// The value of one row for one order (and line). `Ok(None)`: nothing to write.
pub fn render_row(
    row: &FieldRow,
    maps: &ValueMaps,
    order: &Value,
    line: Option<&Value>,
) -> Result<Option<Value>, String> {
    let name = || format!("`{}` ({})", row.field.join("."), row.label);
    let missing = || {
        if row.required {
            Err(format!("{} has no value", name()))
        } else {
            Ok(None)
        }
    };
    let value = row
        .value
        .value(order, line, maps)
        .map_err(|e| format!("{}: {e}", name()))?;
    match row.kind {
        FieldType::String => {
            let text = value.as_ref().map(scalar_text).unwrap_or_default();
            if text.is_empty() && row.required {
                return missing();
            }
            Ok(Some(Value::String(text)))
        }
        FieldType::Number => {
            let Some(raw) = value else {
                return missing();
            };
            match Fixed::from_json(&raw) {
                Some(n) => Ok(Some(n.to_json())),
                None if raw.as_str().is_some_and(str::is_empty) => missing(),
                None => Err(format!("{} = {raw} is not a number", name())),
            }
        }
    }
}

fn insert(obj: &mut Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            obj.insert(last.clone(), value);
        }
        [head, rest @ ..] => {
            let child = obj
                .entry(head.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(child) = child {
                insert(child, rest, value);
            }
        }
    }
}

/// Header rows over `order`.
pub fn render_header(mapping: &Mapping, order: &Value) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for row in &mapping.header {
        if let Some(v) = render_row(row, &mapping.value_maps, order, None)? {
            insert(&mut out, &row.field, v);
        }
    }
    Ok(out)
}

/// Body rows over one line of `order`.
pub fn render_line(mapping: &Mapping, order: &Value, line: &Value) -> Result<Value, String> {
    let mut out = Map::new();
    for row in &mapping.body {
        if let Some(v) = render_row(row, &mapping.value_maps, order, Some(line))? {
            insert(&mut out, &row.field, v);
        }
    }
    Ok(Value::Object(out))
}

/// The whole request body: `{wrapper: {header…, body_field: [lines…]}}`.
pub fn render_voucher(mapping: &Mapping, order: &Value, lines: &[Value]) -> Result<Value, String> {
    let mut dto = render_header(mapping, order)?;
    let body = lines
        .iter()
        .map(|line| render_line(mapping, order, line))
        .collect::<Result<Vec<_>, _>>()?;
    dto.insert(mapping.target.body_field.clone(), Value::Array(body));
    let mut wrapped = Map::new();
    wrapped.insert(mapping.target.wrapper.clone(), Value::Object(dto));
    Ok(Value::Object(wrapped))
}
