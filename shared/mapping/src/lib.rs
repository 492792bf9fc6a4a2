//! The mapping engine: JST outbound orders in, T+ voucher envelopes out. Pure functions only;
//! the transformer does the I/O. The mapping itself is data (`config/mapping.toml`).
//!
//! Steps: `format_response` cleans each order → orders are validated whole (an order is
//! never half-included) → grouped by the header keys, lines merged by the line keys with
//! `$sum`s → split by `body_max_line` → each part rendered through the field rows.

mod code;
mod decimal;
mod format;
mod merge;
mod render;
mod spec;
mod template;

pub use code::external_code;
pub use merge::{MapOutput, RejectedOrder, map_orders};
pub use spec::{Mapping, MappingError};

/// The built-in mapping (the repository's `config/mapping.toml`).
pub const DEFAULT_MAPPING_TOML: &str = include_str!("../../../config/mapping.toml");

impl Mapping {
    pub fn builtin() -> Self {
        Self::from_toml(DEFAULT_MAPPING_TOML).expect("the built-in mapping is valid")
    }
}
