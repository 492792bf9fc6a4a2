use std::fmt;

/// One thing wrong with a mapping file: where (`header[2] (VoucherDate)`, `merge.sum[1]`,
/// `value_maps.warehouse`, `conditions[0]`, `line 12` for TOML syntax) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{row}: {problem}")]
pub struct MappingProblem {
    pub row: String,
    pub problem: String,
}

impl MappingProblem {
    pub fn new(row: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            row: row.into(),
            problem: problem.into(),
        }
    }
}

/// A mapping that cannot be used, with every problem found in it (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MappingError {
    pub problems: Vec<MappingProblem>,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "mapping {one}"),
            all => {
                write!(f, "mapping has {} problems:", all.len())?;
                for p in all {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}
