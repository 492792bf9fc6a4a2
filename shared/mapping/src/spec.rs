use crate::build;
use crate::condition::Condition;
use crate::error::{MappingError, MappingProblem};
use crate::template::{Path, Template};
use crate::value_map::ValueMaps;

/// A mapping file, parsed and checked: every path in it names a known field, every template
/// parses, every value map it uses exists.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub format_response: Vec<FormatRule>,
    pub value_maps: ValueMaps,
    pub conditions: Vec<Condition>,
    pub merge: MergeSpec,
    pub target: TargetSpec,
    pub header: Vec<FieldRow>,
    pub body: Vec<FieldRow>,
    /// `[corrections]`: the form of correction vouchers (defaults when absent).
    pub corrections: crate::corrections::CorrectionsSpec,
}

/// One `formatResponse` rule: reads `old`, writes the reformatted value to `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatRule {
    pub format: FormatKind,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    /// `yyyy-MM-dd[ HH:mm:ss]` → `yyyy-MM-dd`.
    Date,
}

impl FormatKind {
    pub const NAMES: &[(&str, FormatKind)] = &[("date", FormatKind::Date)];
}

/// The article's `operation: merge` / the iPaaS's `groupCalculate`.
#[derive(Debug, Clone)]
pub struct MergeSpec {
    pub header_group: Vec<Path>,
    pub line_group: Vec<Path>,
    pub sum: Vec<Path>,
    pub body_max_line: usize,
    pub code_prefix: String,
    pub derive_price: Option<DerivePrice>,
}

/// Price of a merged line = Σ amount / Σ quantity, rounded to `decimals`.
#[derive(Debug, Clone)]
pub struct DerivePrice {
    pub price: Path,
    pub amount: Path,
    pub quantity: Path,
    pub decimals: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub wrapper: String,
    pub body_field: String,
    pub body_source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Number,
}

impl FieldType {
    pub const NAMES: &[(&str, FieldType)] =
        &[("string", FieldType::String), ("number", FieldType::Number)];
}

/// One `{field, label, type, value}` row of the article's metadata.
#[derive(Debug, Clone)]
pub struct FieldRow {
    /// Dotted T+ path, e.g. `Inventory.Code`.
    pub field: Vec<String>,
    pub label: String,
    /// Free text for people (the article's `describe`).
    pub describe: String,
    pub kind: FieldType,
    pub value: Template,
    /// Missing or empty source values reject the order instead of rendering as empty.
    pub required: bool,
}

impl Mapping {
    /// Parses and checks a mapping; the error lists every problem, each with its row.
    pub fn from_toml(text: &str) -> Result<Self, MappingError> {
        build::build(text).map_err(|problems| MappingError { problems })
    }

    /// Every problem in a mapping file, each naming its row; empty when the mapping is usable.
    pub fn check(text: &str) -> Vec<MappingProblem> {
        build::build(text).err().unwrap_or_default()
    }

    /// One line for people: what the mapping does.
    pub fn summary(&self) -> String {
        let list = |paths: &[Path]| {
            paths
                .iter()
                .map(Path::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let m = &self.merge;
        format!(
            "{} header rows, {} body rows, {} format rules, {} value maps, {} conditions; \
             merge by [{}], lines by [{}], sum [{}], price {}, body_max_line {}",
            self.header.len(),
            self.body.len(),
            self.format_response.len(),
            self.value_maps.len(),
            self.conditions.len(),
            list(&m.header_group),
            list(&m.line_group),
            list(&m.sum),
            m.derive_price
                .as_ref()
                .map_or("kept from the first line".to_string(), |d| format!(
                    "{} = {} / {}",
                    d.price, d.amount, d.quantity
                )),
            m.body_max_line,
        )
    }
}
