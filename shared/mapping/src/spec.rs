use serde::Deserialize;

use crate::template::{Path, Template};

/// A mapping file, parsed and checked.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub format_response: Vec<FormatRule>,
    pub merge: MergeSpec,
    pub target: TargetSpec,
    pub header: Vec<FieldRow>,
    pub body: Vec<FieldRow>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatRule {
    /// Only `date` for now: `yyyy-MM-dd[ HH:mm:ss]` → `yyyy-MM-dd`.
    pub format: FormatKind,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FormatKind {
    Date,
}

#[derive(Debug, Clone)]
pub struct MergeSpec {
    pub header_group: Vec<Path>,
    pub line_group: Vec<Path>,
    pub sum: Vec<Path>,
    pub body_max_line: usize,
    pub code_prefix: String,
    pub derive_price: Option<DerivePrice>,
}

#[derive(Debug, Clone)]
pub struct DerivePrice {
    pub price: Path,
    pub amount: Path,
    pub quantity: Path,
    pub decimals: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub wrapper: String,
    pub body_field: String,
    pub body_source: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Number,
}

/// One `{field, label, type, value}` row of the article's metadata.
#[derive(Debug, Clone)]
pub struct FieldRow {
    /// Dotted T+ path, e.g. `Inventory.Code`.
    pub field: Vec<String>,
    pub label: String,
    pub kind: FieldType,
    pub value: Template,
    /// Missing or empty source values reject the order instead of rendering as empty.
    pub required: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MappingError {
    #[error("mapping is not valid TOML: {0}")]
    Toml(String),
    #[error("mapping {row}: {problem}")]
    Row { row: String, problem: String },
}

// The file as written; converted into the checked types above.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    format_response: Vec<FormatRule>,
    merge: MergeFile,
    target: TargetSpec,
    header: Vec<RowFile>,
    body: Vec<RowFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeFile {
    method: String,
    header_group: Vec<String>,
    line_group: Vec<String>,
    #[serde(default)]
    sum: Vec<String>,
    body_max_line: usize,
    code_prefix: String,
    derive_price: Option<DeriveFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeriveFile {
    price: String,
    amount: String,
    quantity: String,
    decimals: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowFile {
    field: String,
    #[serde(default)]
    label: String,
    #[serde(rename = "type")]
    kind: FieldType,
    value: String,
    #[serde(default)]
    required: bool,
}

fn row_error(row: impl Into<String>, problem: impl Into<String>) -> MappingError {
    MappingError::Row {
        row: row.into(),
        problem: problem.into(),
    }
}

impl Mapping {
    pub fn from_toml(text: &str) -> Result<Self, MappingError> {
        let file: File = toml::from_str(text).map_err(|e| MappingError::Toml(e.to_string()))?;
        let m = file.merge;
        if m.method != "merge" {
            return Err(row_error(
                "merge.method",
                format!("unknown operation `{}` (expected `merge`)", m.method),
            ));
        }
        if m.body_max_line == 0 {
            return Err(row_error("merge.body_max_line", "must be at least 1"));
        }
        if m.code_prefix.len() > 4 || !m.code_prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(row_error(
                "merge.code_prefix",
                "must be at most 4 ASCII letters or digits (ExternalCode ≤ 30 characters)",
            ));
        }
        let source = file.target.body_source.as_str();
        let paths = |key: &str, list: Vec<String>| -> Result<Vec<Path>, MappingError> {
            list.iter()
                .enumerate()
                .map(|(i, p)| {
                    Path::parse(p, source).map_err(|e| row_error(format!("{key}[{i}]"), e))
                })
                .collect()
        };
        let header_group = paths("merge.header_group", m.header_group)?;
        if header_group.iter().any(Path::is_line) {
            return Err(row_error(
                "merge.header_group",
                format!("header keys cannot address `{source}.…`"),
            ));
        }
        let line_group = paths("merge.line_group", m.line_group)?;
        let sum = paths("merge.sum", m.sum)?;
        if let Some(p) = line_group.iter().chain(&sum).find(|p| !p.is_line()) {
            return Err(row_error(
                "merge.line_group / merge.sum",
                format!("`{p}` must address a line field (`{source}.…`)"),
            ));
        }
        let derive_price = match m.derive_price {
            None => None,
            Some(d) => {
                let one = |key: &str, p: &str| {
                    Path::parse(p, source)
                        .map_err(|e| row_error(format!("merge.derive_price.{key}"), e))
                };
                Some(DerivePrice {
                    price: one("price", &d.price)?,
                    amount: one("amount", &d.amount)?,
                    quantity: one("quantity", &d.quantity)?,
                    decimals: d.decimals.min(8),
                })
            }
        };
        let rows = |section: &str, rows: Vec<RowFile>, line: bool| {
            rows.into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let name = format!("{section}[{i}] ({})", r.field);
                    if r.field.trim().is_empty() || r.field.split('.').any(str::is_empty) {
                        return Err(row_error(
                            name,
                            "field must be a dotted name like `Inventory.Code`",
                        ));
                    }
                    let value =
                        Template::parse(&r.value, source).map_err(|e| row_error(&name, e))?;
                    if !line && value.paths().any(Path::is_line) {
                        return Err(row_error(
                            name,
                            format!("header rows cannot read `{source}.…` fields"),
                        ));
                    }
                    Ok(FieldRow {
                        field: r.field.split('.').map(str::to_string).collect(),
                        label: r.label,
                        kind: r.kind,
                        value,
                        required: r.required,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let header = rows("header", file.header, false)?;
        let body = rows("body", file.body, true)?;
        if body.is_empty() {
            return Err(row_error("body", "at least one line field is needed"));
        }
        Ok(Self {
            format_response: file.format_response,
            merge: MergeSpec {
                header_group,
                line_group,
                sum,
                body_max_line: m.body_max_line,
                code_prefix: m.code_prefix,
                derive_price,
            },
            target: file.target,
            header,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_mapping_parses() {
        let m = Mapping::builtin();
        assert_eq!(m.merge.header_group.len(), 2);
        assert_eq!(m.body.len(), 4);
    }

    #[test]
    fn unknown_operation_and_bad_template_name_their_row() {
        let text = crate::DEFAULT_MAPPING_TOML.replace("method = \"merge\"", "method = \"mrge\"");
        let err = Mapping::from_toml(&text).expect_err("bad method");
        assert!(err.to_string().contains("merge.method"), "{err}");

        let text = crate::DEFAULT_MAPPING_TOML.replace("{items.qty}\"", "{items.qty\"");
        let err = Mapping::from_toml(&text).expect_err("bad template");
        assert!(err.to_string().contains("body[1] (BaseQuantity)"), "{err}");
    }
}
