//! The configuration contract (design.md §5): built-in defaults → optional TOML file →
//! `J2T__SECTION__KEY` environment variables. One typed struct; a bad value fails at start
//! with the key's name. Secrets are `SecretString`, whose `Debug` prints `[REDACTED]`.

mod sections;

use std::path::Path;

pub use secrecy::{ExposeSecret, SecretString};
pub use sections::*;

/// The defaults every binary starts from (the repository's `config/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Prefix of environment overrides: `J2T__NATS__URL` sets `nats.url`.
pub const ENV_PREFIX: &str = "J2T";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, the environment or a value's type was wrong; `config` names the key.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Config {
    /// Load defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, None)
    }

    /// Like [`Config::load`], but with an explicit environment (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let environment = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .source(env);
        let cfg: Config = builder.add_source(environment).build()?.try_deserialize()?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_string(),
            })
        };
        if !(1..=50).contains(&self.fetcher.page_size) {
            return invalid(
                "fetcher.page_size",
                "must be between 1 and 50 (JST maximum)",
            );
        }
        if self.fetcher.window_secs == 0 || self.fetcher.window_secs > 7 * 86_400 {
            return invalid(
                "fetcher.window_secs",
                "must be between 1 and 604800 (7 days)",
            );
        }
        if self.fetcher.task.is_empty()
            || !self
                .fetcher
                .task
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return invalid(
                "fetcher.task",
                "must be non-empty and use only A-Z a-z 0-9 - _",
            );
        }
        if !matches!(self.fetcher.date_type, 0 | 2) {
            return invalid("fetcher.date_type", "must be 0 (modified) or 2 (io_date)");
        }
        if let Some(start) = &self.fetcher.start_time
            && parse_jst_time(start).is_none()
        {
            return invalid("fetcher.start_time", "must look like 2026-11-01 00:00:00");
        }
        if self.writer.concurrency == 0 {
            return invalid("writer.concurrency", "must be at least 1");
        }
        if self.writer.max_deliver < 1 {
            return invalid("writer.max_deliver", "must be at least 1");
        }
        if self.nats.url.trim().is_empty() {
            return invalid("nats.url", "must not be empty");
        }
        Ok(())
    }
}

/// JST's time format, `yyyy-MM-dd HH:mm:ss`, checked without pulling a time crate in here.
fn parse_jst_time(s: &str) -> Option<()> {
    let b = s.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    (b.len() == 19
        && digits.iter().all(|&i| b[i].is_ascii_digit())
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':')
        .then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_load_without_file_or_env() {
        let cfg = Config::load_with_env(None, env(&[])).expect("defaults are valid");
        assert_eq!(cfg.fetcher.page_size, 50);
        assert_eq!(cfg.fetcher.shop_id, None);
        assert_eq!(cfg.tplus.duplicate_code, "999");
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let cfg = Config::load_with_env(
            None,
            env(&[
                ("J2T__NATS__URL", "nats://nats:4222"),
                ("J2T__JST__APP_KEY", "k1"),
                ("J2T__FETCHER__PAGE_SIZE", "20"),
                ("J2T__FETCHER__SHOP_ID", "7"),
                ("J2T__ADMIN__LISTEN", "0.0.0.0:9100"),
            ]),
        )
        .expect("valid");
        assert_eq!(cfg.nats.url, "nats://nats:4222");
        assert_eq!(cfg.jst.app_key, "k1");
        assert_eq!(cfg.fetcher.page_size, 20);
        assert_eq!(cfg.fetcher.shop_id, Some(7));
        assert_eq!(cfg.admin.listen.port(), 9100);
    }

    #[test]
    fn wrong_values_name_the_key() {
        let err = Config::load_with_env(None, env(&[("J2T__FETCHER__PAGE_SIZE", "500")]))
            .expect_err("page size too big");
        assert!(err.to_string().contains("fetcher.page_size"), "{err}");

        let err = Config::load_with_env(None, env(&[("J2T__WRITER__CONCURRENCY", "many")]))
            .expect_err("not a number");
        assert!(err.to_string().contains("concurrency"), "{err}");

        let err = Config::load_with_env(None, env(&[("J2T__TPLUS__BASE_URL", "not a url")]))
            .expect_err("bad url");
        assert!(err.to_string().contains("base_url"), "{err}");

        let err = Config::load_with_env(None, env(&[("J2T__FETCHER__START_TIME", "yesterday")]))
            .expect_err("bad time");
        assert!(err.to_string().contains("fetcher.start_time"), "{err}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let cfg = Config::load_with_env(
            None,
            env(&[
                ("J2T__JST__APP_SECRET", "s3cr3t-jst"),
                ("J2T__TPLUS__OPEN_TOKEN", "s3cr3t-token"),
            ]),
        )
        .expect("valid");
        let printed = format!("{cfg:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert_eq!(cfg.jst.app_secret.expose_secret(), "s3cr3t-jst");
    }
}
