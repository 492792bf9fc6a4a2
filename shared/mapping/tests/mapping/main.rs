//! j2t-mapping's integration tests, one binary (faster to link): golden files for the default
//! and the documented example mapping, properties of the merge, `check`, value maps and
//! conditions.

mod check;
mod conditions;
mod golden;
mod no_panic;
mod properties;
mod support;
mod value_maps;
