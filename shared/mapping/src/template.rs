use std::fmt;

use serde_json::Value;

use crate::value_map::ValueMaps;

/// A source field: on the order (`remark`) or on one of its lines (`items.sku_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    line: bool,
    name: String,
    /// As written (`items.sku_id`), for messages.
    text: String,
}

impl Path {
    /// `items.x` (with `items` being the body source) is a line field; anything else an order
    /// field. Names are single keys: JST documents are flat apart from their lines.
    pub fn parse(text: &str, body_source: &str) -> Result<Self, String> {
        let text = text.trim();
        let (line, name) = match text.split_once('.') {
            Some((head, rest)) if head == body_source => (true, rest),
            Some(_) => {
                return Err(format!(
                    "`{text}`: only `{body_source}.field` may contain a dot"
                ));
            }
            None => (false, text),
        };
        if !is_name(name) {
            return Err(format!("`{text}` is not a field name"));
        }
        Ok(Self {
            line,
            name: name.to_string(),
            text: text.to_string(),
        })
    }

    pub fn is_line(&self) -> bool {
        self.line
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the field from the order or the line; `null` counts as missing.
    pub fn get<'a>(&self, order: &'a Value, line: Option<&'a Value>) -> Option<&'a Value> {
        let source = if self.line { line? } else { order };
        source.get(&self.name).filter(|v| !v.is_null())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// ASCII letters, digits and `_`: JST field names and value map names.
pub fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One `{field}` or `{field|map}` of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct Placeholder {
    pub path: Path,
    /// A `[value_maps.NAME]` the value goes through.
    pub map: Option<String>,
}

impl Placeholder {
    /// The value, mapped when a map is named. A missing field stays missing: the map is not
    /// asked about "nothing", the row's `required` decides.
    fn value(
        &self,
        order: &Value,
        line: Option<&Value>,
        maps: &ValueMaps,
    ) -> Result<Option<Value>, String> {
        let Some(raw) = self.path.get(order, line) else {
            return Ok(None);
        };
        let Some(name) = &self.map else {
            return Ok(Some(raw.clone()));
        };
        // `check` makes sure every named map exists; a hand-built Mapping might not.
        let map = maps
            .get(name)
            .ok_or_else(|| format!("value_maps.{name} does not exist"))?;
        map.apply(name, &self.path, &scalar_text(raw))
            .map(|v| Some(Value::String(v)))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field(Placeholder),
}

/// A value template: constant text with `{field}` and `{field|map}` placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Piece>);

impl Template {
    pub fn parse(text: &str, body_source: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(format!("template `{text}`: `}}` without `{{`"));
            }
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("template `{text}`: `{{` is never closed"))?;
            let inner = &after[..close];
            if inner.contains('{') {
                return Err(format!("template `{text}`: `{{` inside `{{…}}`"));
            }
            let placeholder =
                placeholder(inner, body_source).map_err(|e| format!("template `{text}`: {e}"))?;
            pieces.push(Piece::Field(placeholder));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Self(pieces))
    }

    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.0.iter().filter_map(|p| match p {
            Piece::Field(placeholder) => Some(placeholder),
            Piece::Text(_) => None,
        })
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.placeholders().map(|p| &p.path)
    }

    /// The constant text, all pieces together.
    pub fn constant_len(&self) -> usize {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.chars().count(),
                Piece::Field(_) => 0,
            })
            .sum()
    }

    /// The template's value. Exactly one placeholder keeps its JSON type (a number stays a
    /// number) and is `None` when missing; anything else renders to text, missing fields as
    /// empty text.
    pub fn value(
        &self,
        order: &Value,
        line: Option<&Value>,
        maps: &ValueMaps,
    ) -> Result<Option<Value>, String> {
        if let [Piece::Field(p)] = self.0.as_slice() {
            return p.value(order, line, maps);
        }
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(p) => {
                    if let Some(v) = p.value(order, line, maps)? {
                        out.push_str(&scalar_text(&v));
                    }
                }
            }
        }
        Ok(Some(Value::String(out)))
    }
}

/// `path` or `path|map`, spaces around either allowed.
fn placeholder(inner: &str, body_source: &str) -> Result<Placeholder, String> {
    let (path, map) = match inner.split_once('|') {
        None => (inner, None),
        Some((path, map)) => {
            let map = map.trim();
            if !is_name(map) {
                return Err(format!(
                    "`{map}` after `|` is not a value map name (letters, digits, `_`)"
                ));
            }
            (path, Some(map.to_string()))
        }
    };
    Ok(Placeholder {
        path: Path::parse(path, body_source)?,
        map,
    })
}

/// Text of a scalar JSON value (strings without quotes).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value_map::ValueMap;
    use serde_json::json;

    fn text(t: &Template, order: &Value, line: Option<&Value>, maps: &ValueMaps) -> String {
        t.value(order, line, maps)
            .expect("renders")
            .map(|v| scalar_text(&v))
            .unwrap_or_default()
    }

    #[test]
    fn renders_constants_and_fields() {
        let t = Template::parse("JST {io_id}/{items.sku_id}", "items").expect("valid");
        let order = json!({"io_id": 42});
        let line = json!({"sku_id": "A-1"});
        assert_eq!(
            text(&t, &order, Some(&line), &ValueMaps::new()),
            "JST 42/A-1"
        );
        assert!(Template::parse("{io_id", "items").is_err());
        assert!(Template::parse("io_id}", "items").is_err());
        assert!(Template::parse("{a.b}", "items").is_err());
        assert!(Template::parse("{a{b}", "items").is_err());
        assert!(Template::parse("{a|}", "items").is_err());
        assert!(Template::parse("{a|b-c}", "items").is_err());
    }

    #[test]
    fn single_placeholder_keeps_its_type_and_maps_apply() {
        let maps = ValueMaps::from([(
            "wh".to_string(),
            ValueMap {
                entries: [("1".to_string(), "WH01".to_string())].into(),
                default: None,
            },
        )]);
        let order = json!({"wms_co_id": 1, "qty": 3});
        let single = Template::parse("{qty}", "items").expect("valid");
        assert_eq!(
            single.value(&order, None, &maps).expect("ok"),
            Some(json!(3))
        );
        let mapped = Template::parse("{ wms_co_id | wh }", "items").expect("valid");
        assert_eq!(
            mapped.value(&order, None, &maps).expect("ok"),
            Some(json!("WH01"))
        );
        let miss = mapped
            .value(&json!({"wms_co_id": 99}), None, &maps)
            .expect_err("no entry");
        assert_eq!(miss, "value_maps.wh has no entry for wms_co_id \"99\"");
        assert_eq!(mapped.value(&json!({}), None, &maps).expect("ok"), None);
    }
}
