//! The mapping engine: JST outbound orders in, T+ voucher envelopes out. Pure functions only;
//! the transformer does the I/O. The mapping itself is data (`config/mapping.toml`, format in
//! `MAPPING.md`), checked as a whole by [`Mapping::check`] before anything runs.
//!
//! Steps per order (`prepare`): `format_response` → order conditions → a full trial render,
//! line conditions first (an order is never half-included). Then (`merge`): grouped by the
//! header keys, lines merged by the line keys with `$sum`s, split by `body_max_line`, each part
//! rendered through the field rows with a deterministic ExternalCode (`code`).

mod build;
mod code;
mod condition;
mod corrections;
mod decimal;
mod error;
mod fields;
mod file;
mod format;
mod merge;
mod output;
mod prepare;
mod render;
mod spec;
mod template;
mod value_map;

pub use code::external_code;
pub use condition::{Condition, Scope, Test};
pub use corrections::{CorrectionForm, CorrectionsSpec, correction_vouchers};
pub use error::{MappingError, MappingProblem};
pub use merge::map_orders;
pub use output::{MapOutput, RejectedOrder, SkippedLine, SkippedOrder};
pub use spec::{FieldRow, FieldType, FormatKind, FormatRule, Mapping, MergeSpec, TargetSpec};
pub use template::{Path, Template};
pub use value_map::{ValueMap, ValueMaps};

/// The built-in mapping (the repository's `config/mapping.toml`).
pub const DEFAULT_MAPPING_TOML: &str = include_str!("../../../config/mapping.toml");

impl Mapping {
    pub fn builtin() -> Self {
        Self::from_toml(DEFAULT_MAPPING_TOML).expect("the built-in mapping is valid")
    }
}
