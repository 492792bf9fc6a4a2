//! `jst2tplus check [FILE]`: validates a mapping file and prints every problem, one per line,
//! each naming its row (`body[1] (BaseQuantity): unknown type …`). Without FILE it checks the
//! built-in mapping. Exits non-zero when anything is wrong.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use j2t_mapping::{DEFAULT_MAPPING_TOML, Mapping};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Mapping file (TOML); the built-in mapping when omitted.
    pub file: Option<PathBuf>,
}

/// A mapping's name for messages and its text: the file, or the built-in mapping.
pub fn mapping_text(file: Option<&Path>) -> anyhow::Result<(String, String)> {
    match file {
        None => Ok(("the built-in mapping".into(), DEFAULT_MAPPING_TOML.into())),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading mapping {}", path.display()))?;
            Ok((path.display().to_string(), text))
        }
    }
}

pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let (name, text) = mapping_text(args.file.as_deref())?;
    let problems = Mapping::check(&text);
    if problems.is_empty() {
        let mapping = Mapping::from_toml(&text)?;
        println!("mapping OK: {}", mapping.summary());
        return Ok(());
    }
    for problem in &problems {
        println!("{problem}");
    }
    let plural = if problems.len() == 1 { "" } else { "s" };
    anyhow::bail!("{} problem{plural} in {name}", problems.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_mapping_passes_and_a_broken_file_fails_with_a_count() {
        run(CheckArgs { file: None }).expect("built-in mapping is valid");

        let path = std::env::temp_dir().join(format!("j2t-check-{}.toml", std::process::id()));
        let broken = DEFAULT_MAPPING_TOML.replacen("method = \"merge\"", "method = \"mrge\"", 1);
        std::fs::write(&path, broken).expect("write temp mapping");
        let err = run(CheckArgs {
            file: Some(path.clone()),
        })
        .expect_err("broken mapping");
        std::fs::remove_file(&path).expect("remove temp mapping");
        assert_eq!(err.to_string(), format!("1 problem in {}", path.display()));
    }
}
