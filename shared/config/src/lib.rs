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
    Invalid { key: String, reason: String },
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
        let f = &self.fetcher;
        if f.window_secs == 0 || f.window_secs + f.overlap_secs > 7 * 86_400 {
            return invalid(
                "fetcher.window_secs",
                "must be at least 1, and window_secs + overlap_secs at most 604800 (7 days)",
            );
        }
        if f.requests_per_second == 0 || f.requests_per_minute == 0 {
            return invalid(
                "fetcher.requests_per_minute",
                "rate limits must be at least 1",
            );
        }
        if f.lease_ttl_secs < 3 {
            return invalid("fetcher.lease_ttl_secs", "must be at least 3");
        }
        let defaults = TaskConfig {
            start_time: f.start_time.clone(),
            paging: Some(f.paging),
            page_size: Some(f.page_size),
            status: Some(f.status.clone()),
            date_type: Some(f.date_type),
            so_ids: f.so_ids.clone(),
            ..TaskConfig::default()
        };
        validate_task("fetcher", &defaults)?;
        for (name, task) in &f.tasks {
            let prefix = format!("fetcher.tasks.{name}");
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return invalid(&prefix, "task names use only A-Z a-z 0-9 - _");
            }
            validate_task(&prefix, task)?;
        }
        for task in f.sync_tasks() {
            if task.paging == Paging::StartTs && task.page_size < 2 {
                return invalid(
                    &format!("fetcher.tasks.{}.page_size", task.name),
                    "start_ts paging needs a page_size of at least 2",
                );
            }
        }
        if self.writer.concurrency == 0 {
            return invalid("writer.concurrency", "must be at least 1");
        }
        if self.writer.max_deliver < 1 {
            return invalid("writer.max_deliver", "must be at least 1");
        }
        if !matches!(self.monitor.language.as_str(), "zh" | "en") {
            return invalid("monitor.language", "must be zh or en");
        }
        for (name, hook) in &self.monitor.webhooks {
            if !matches!(hook.format.as_str(), "generic" | "dingtalk" | "wecom") {
                return invalid(
                    &format!("monitor.webhooks.{name}.format"),
                    "must be generic, dingtalk or wecom",
                );
            }
        }
        if self.nats.url.trim().is_empty() {
            return invalid("nats.url", "must not be empty");
        }
        Ok(())
    }
}

fn invalid(key: &str, reason: &str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        key: key.to_string(),
        reason: reason.to_string(),
    })
}

/// Checks the keys `task` sets; `prefix` is where they live (`fetcher` or `fetcher.tasks.X`).
fn validate_task(prefix: &str, task: &TaskConfig) -> Result<(), ConfigError> {
    let key = |k: &str| format!("{prefix}.{k}");
    if let Some(size) = task.page_size
        && !(1..=50).contains(&size)
    {
        return invalid(&key("page_size"), "must be between 1 and 50 (JST maximum)");
    }
    if let Some(date_type) = task.date_type
        && !matches!(date_type, 0 | 2)
    {
        return invalid(&key("date_type"), "must be 0 (modified) or 2 (io_date)");
    }
    if let Some(start) = &task.start_time
        && parse_jst_time(start).is_none()
    {
        return invalid(&key("start_time"), "must look like 2026-11-01 00:00:00");
    }
    if let Some(ids) = &task.so_ids {
        let count = split_ids(ids).len();
        if count > 50 {
            return invalid(
                &key("so_ids"),
                &format!("holds {count} ids; JST accepts at most 50"),
            );
        }
    }
    Ok(())
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
        let tasks = cfg.fetcher.sync_tasks();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].name, "default");
        assert_eq!(tasks[0].status.as_deref(), Some("Confirmed"));
        assert_eq!(tasks[0].paging, Paging::Snapshot);
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
    fn named_tasks_override_defaults_and_parse_so_ids() {
        let cfg = Config::load_with_env(
            None,
            env(&[
                ("J2T__FETCHER__STATUS", "Confirmed"),
                ("J2T__FETCHER__TASKS__TMALL__SHOP_ID", "10001"),
                ("J2T__FETCHER__TASKS__OFFLINE__IS_OFFLINE_SHOP", "true"),
                ("J2T__FETCHER__TASKS__OFFLINE__SO_IDS", "A1, B2  C3，D4"),
                ("J2T__FETCHER__TASKS__OFFLINE__PAGING", "start_ts"),
            ]),
        )
        .expect("valid");
        let tasks = cfg.fetcher.sync_tasks();
        let names: Vec<_> = tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["offline", "tmall"]);
        assert_eq!(tasks[0].so_ids, ["A1", "B2", "C3", "D4"]);
        assert_eq!(tasks[0].is_offline_shop, Some(true));
        assert_eq!(tasks[0].paging, Paging::StartTs);
        assert_eq!(tasks[1].shop_id, Some(10001));
        assert_eq!(tasks[1].status.as_deref(), Some("Confirmed"));
        assert_eq!(tasks[1].so_ids, Vec::<String>::new());

        let many = (0..51)
            .map(|i| format!("S{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let err = Config::load_with_env(
            None,
            env(&[("J2T__FETCHER__TASKS__X__SO_IDS", many.as_str())]),
        )
        .expect_err("too many ids");
        assert!(err.to_string().contains("fetcher.tasks.x.so_ids"), "{err}");
        let err = Config::load_with_env(None, env(&[("J2T__FETCHER__TASKS__X__PAGE_SIZE", "51")]))
            .expect_err("page too big");
        assert!(
            err.to_string().contains("fetcher.tasks.x.page_size"),
            "{err}"
        );
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
