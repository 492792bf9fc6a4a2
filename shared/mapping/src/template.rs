use std::fmt;

/// A source field: on the order (`remark`) or on one of its lines (`items.sku_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    line: bool,
    name: String,
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
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{text}` is not a field name"));
        }
        Ok(Self {
            line,
            name: name.to_string(),
        })
    }

    pub fn is_line(&self) -> bool {
        self.line
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the field from the order or the line.
    pub fn get<'a>(
        &self,
        order: &'a serde_json::Value,
        line: Option<&'a serde_json::Value>,
    ) -> Option<&'a serde_json::Value> {
        let source = if self.line { line? } else { order };
        source.get(&self.name).filter(|v| !v.is_null())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line {
            write!(f, "<line>.{}", self.name)
        } else {
            f.write_str(&self.name)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field(Path),
}

/// A value template: constant text with `{field}` placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Piece>);

impl Template {
    pub fn parse(text: &str, body_source: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(format!("template `{text}`: `}}` without `{{`"));
            }
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("template `{text}`: `{{` is never closed"))?;
            let path = Path::parse(&after[..close], body_source)
                .map_err(|e| format!("template `{text}`: {e}"))?;
            pieces.push(Piece::Field(path));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Self(pieces))
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.0.iter().filter_map(|p| match p {
            Piece::Field(path) => Some(path),
            Piece::Text(_) => None,
        })
    }

    /// The template is exactly one placeholder: its value keeps its JSON type.
    pub fn single(&self) -> Option<&Path> {
        match self.0.as_slice() {
            [Piece::Field(p)] => Some(p),
            _ => None,
        }
    }

    /// Renders to text; missing fields render as empty text.
    pub fn render(&self, order: &serde_json::Value, line: Option<&serde_json::Value>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(p) => {
                    if let Some(v) = p.get(order, line) {
                        out.push_str(&scalar_text(v));
                    }
                }
            }
        }
        out
    }
}

/// Text of a scalar JSON value (strings without quotes).
pub fn scalar_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_constants_and_fields() {
        let t = Template::parse("JST {io_id}/{items.sku_id}", "items").expect("valid");
        let order = json!({"io_id": 42});
        let line = json!({"sku_id": "A-1"});
        assert_eq!(t.render(&order, Some(&line)), "JST 42/A-1");
        assert!(Template::parse("{io_id", "items").is_err());
        assert!(Template::parse("io_id}", "items").is_err());
        assert!(Template::parse("{a.b}", "items").is_err());
    }
}
