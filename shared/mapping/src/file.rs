//! The mapping file as written. Every enum-like value is plain text here and each section or
//! row is read on its own, so that one mistake does not hide the next: `build` turns these
//! into the checked types and collects every problem. (`[value_maps]` is read by hand: its
//! keys are the user's.)

use serde::Deserialize;

/// `[source]`: fields a JST account returns beyond the documented ones.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    #[serde(default)]
    pub order_fields: Vec<String>,
    #[serde(default)]
    pub line_fields: Vec<String>,
}

/// One `[[format_response]]` rule.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatFile {
    pub format: String,
    pub old: String,
    pub new: String,
}

/// One `[[conditions]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionFile {
    pub scope: String,
    #[serde(default)]
    pub label: String,
    pub skip_if: Option<TestFile>,
    pub keep_if: Option<TestFile>,
}

/// `{ field = "…", equals = … }` and friends; exactly one test.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    pub field: String,
    pub equals: Option<toml::Value>,
    pub not_equals: Option<toml::Value>,
    #[serde(rename = "in")]
    pub in_: Option<Vec<toml::Value>>,
    pub not_in: Option<Vec<toml::Value>>,
    pub is_empty: Option<bool>,
}

/// `[merge]` (the article's `operation`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeFile {
    pub method: String,
    pub header_group: Vec<String>,
    pub line_group: Vec<String>,
    #[serde(default)]
    pub sum: Vec<String>,
    pub body_max_line: usize,
    pub code_prefix: String,
    /// Read on its own (`DeriveFile`) so its mistakes are named separately.
    pub derive_price: Option<toml::Value>,
}

/// `[merge.derive_price]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeriveFile {
    pub price: String,
    pub amount: String,
    pub quantity: String,
    pub decimals: u32,
}

/// `[target]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub wrapper: String,
    pub body_field: String,
    pub body_source: String,
}

/// One `[[header]]` or `[[body]]` row: the article's `{field, label, type, value}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowFile {
    pub field: String,
    #[serde(default)]
    pub label: String,
    /// Free text for people, as in the article's metadata.
    #[serde(default)]
    pub describe: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[serde(default)]
    pub required: bool,
}

/// `[corrections]`; each form is read on its own (`CorrectionForm`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionsFile {
    pub code_prefix: Option<String>,
    pub decrease: Option<toml::Value>,
    pub increase: Option<toml::Value>,
}
