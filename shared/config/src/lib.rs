//! The configuration contract (`docs/design.md`, "Configuration"): built-in defaults →
//! optional TOML file → `J2T__SECTION__KEY` environment variables. One typed struct; a bad
//! value fails at start with the key's name. Secrets are `SecretString`, whose `Debug`
//! prints `[REDACTED]`.

mod nats;
mod sections;
mod transport;
mod values;

use std::path::Path;

pub use secrecy::{ExposeSecret, SecretString};
pub use sections::*;
pub use transport::{HostList, check_base_url, is_loopback};
pub use values::{
    CorrectionPolicy, DateType, JST_STATUSES, Language, SoIds, Statuses, VoucherListOrder,
    WebhookFormat, split_ids,
};

/// The defaults every binary starts from (the repository's `config/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Prefix of environment overrides: `J2T__NATS__URL` sets `nats.url`.
pub const ENV_PREFIX: &str = "J2T";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value was wrong (parsed by its type, see `values`).
    #[error("configuration key `{key}`{origin}: {reason}")]
    Invalid {
        key: String,
        /// ` in FILE` or ` in the environment`, when known.
        origin: String,
        reason: String,
    },
    /// The file or the environment could not be read, or a value had the wrong type;
    /// `config` names the key.
    #[error("configuration: {0}")]
    Load(config::ConfigError),
}

impl From<config::ConfigError> for ConfigError {
    fn from(e: config::ConfigError) -> Self {
        match e {
            config::ConfigError::At {
                error,
                origin,
                key: Some(key),
            } => ConfigError::Invalid {
                key,
                origin: origin.map(|o| format!(" in {o}")).unwrap_or_default(),
                reason: error.to_string(),
            },
            other => ConfigError::Load(other),
        }
    }
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
        // Every value is parsed into its type here (see `values`): a wrong one fails with
        // its key and the value.
        let cfg: Config = builder.add_source(environment).build()?.try_deserialize()?;
        cfg.check_base_urls()?;
        Ok(cfg)
    }

    /// The API base URLs may carry credentials only over https, loopback, or a listed host.
    fn check_base_urls(&self) -> Result<(), ConfigError> {
        let checks = [
            (&self.jst.base_url, &self.jst.allow_http_hosts, "jst"),
            (&self.tplus.base_url, &self.tplus.allow_http_hosts, "tplus"),
        ];
        for (url, allowed, api) in checks {
            check_base_url(url, allowed, &format!("{api}.allow_http_hosts")).map_err(|reason| {
                ConfigError::Invalid {
                    key: format!("{api}.base_url"),
                    origin: String::new(),
                    reason,
                }
            })?;
        }
        Ok(())
    }
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
        assert_eq!(tasks[0].statuses, ["Confirmed", "Archive"]);
        assert_eq!(cfg.fetcher.recheck_days, 2);
        assert_eq!(tasks[0].paging, Paging::Keyset);
        assert_eq!(tasks[0].date_type, DateType::IoDate);
        assert_eq!(tasks[0].start_time, None);
        assert_eq!(cfg.monitor.language, Language::Zh);
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
    fn plain_http_to_a_network_host_fails_unless_listed() {
        let err = Config::load_with_env(
            None,
            env(&[("J2T__TPLUS__BASE_URL", "http://tplus.example.com")]),
        )
        .expect_err("plain http");
        let text = err.to_string();
        assert!(text.contains("`tplus.base_url`"), "{text}");
        assert!(text.contains("tplus.allow_http_hosts"), "{text}");
        Config::load_with_env(
            None,
            env(&[
                ("J2T__JST__BASE_URL", "http://simulator:8081"),
                ("J2T__JST__ALLOW_HTTP_HOSTS", "simulator"),
                ("J2T__TPLUS__BASE_URL", "https://openapi.chanjet.com"),
            ]),
        )
        .expect("listed host and https pass");
    }

    /// Each checked key, given a bad value: the error names the key and the value.
    #[test]
    fn every_bad_value_names_its_key_and_value() {
        let many = (0..51)
            .map(|i| format!("S{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let cases: [(&str, &str, &str, &str); 25] = [
            ("J2T__MONITOR__LANGUAGE", "fr", "monitor.language", "`fr`"),
            (
                "J2T__FETCHER__SHIPPED_STATUSES",
                "Confirmed, Shipped",
                "fetcher.shipped_statuses",
                "`Shipped` is not a JST outbound status",
            ),
            (
                "J2T__FETCHER__TASKS__X__SHIPPED_STATUSES",
                " , ",
                "fetcher.tasks.x.shipped_statuses",
                "at least one status",
            ),
            (
                "J2T__FETCHER__RECHECK_SHARE_PERCENT",
                "150",
                "fetcher.recheck_share_percent",
                "150",
            ),
            (
                "J2T__MONITOR__WEBHOOKS__OPS__FORMAT",
                "slack",
                "monitor.webhooks.ops.format",
                "`slack`",
            ),
            (
                "J2T__FETCHER__DATE_TYPE",
                "1",
                "fetcher.date_type",
                "1 is not a date_type",
            ),
            (
                "J2T__FETCHER__TASKS__X__DATE_TYPE",
                "7",
                "fetcher.tasks.x.date_type",
                "7 is not a date_type",
            ),
            (
                "J2T__FETCHER__DATE_TYPE",
                "modified",
                "fetcher.date_type",
                "modified",
            ),
            (
                "J2T__FETCHER__START_TIME",
                "yesterday",
                "fetcher.start_time",
                "`yesterday`",
            ),
            (
                "J2T__FETCHER__TASKS__X__START_TIME",
                "2026-13-01 00:00:00",
                "fetcher.tasks.x.start_time",
                "`2026-13-01 00:00:00`",
            ),
            (
                "J2T__FETCHER__PAGE_SIZE",
                "0",
                "fetcher.page_size",
                "0 is out of range",
            ),
            (
                "J2T__FETCHER__TASKS__X__PAGE_SIZE",
                "51",
                "fetcher.tasks.x.page_size",
                "51",
            ),
            (
                "J2T__FETCHER__SO_IDS",
                many.as_str(),
                "fetcher.so_ids",
                "51 ids",
            ),
            (
                "J2T__FETCHER__REQUESTS_PER_SECOND",
                "0",
                "fetcher.requests_per_second",
                "0 is",
            ),
            (
                "J2T__FETCHER__REQUESTS_PER_MINUTE",
                "0",
                "fetcher.requests_per_minute",
                "0 is",
            ),
            (
                "J2T__FETCHER__LEASE_TTL_SECS",
                "2",
                "fetcher.lease_ttl_secs",
                "2 is",
            ),
            (
                "J2T__FETCHER__WINDOW_SECS",
                "0",
                "fetcher.window_secs",
                "0 is",
            ),
            (
                "J2T__WRITER__CONCURRENCY",
                "0",
                "writer.concurrency",
                "0 is",
            ),
            (
                "J2T__WRITER__MAX_DELIVER",
                "-1",
                "writer.max_deliver",
                "-1 is",
            ),
            (
                "J2T__WRITER__OUTAGE_AFTER_FAILURES",
                "0",
                "writer.outage_after_failures",
                "0 is",
            ),
            (
                "J2T__WRITER__OUTAGE_PROBE_SECS",
                "0",
                "writer.outage_probe_secs",
                "0 is",
            ),
            ("J2T__NATS__URL", " ", "nats.url", "` `"),
            (
                "J2T__TPLUS__VOUCHER_LIST_PAGE_SIZE",
                "0",
                "tplus.voucher_list_page_size",
                "0 is",
            ),
            (
                "J2T__TPLUS__MASTER_PAGE_SIZE",
                "1001",
                "tplus.master_page_size",
                "1 to 1000",
            ),
            (
                "J2T__TPLUS__VOUCHER_LIST_ORDER",
                "sideways",
                "tplus.voucher_list_order",
                "oldest_first or newest_first",
            ),
        ];
        for (var, value, key, shown) in cases {
            let err = Config::load_with_env(None, env(&[(var, value)]))
                .expect_err(&format!("{var}={value} must be refused"));
            let text = err.to_string();
            assert!(text.contains(&format!("`{key}`")), "{var}: {text}");
            assert!(text.contains(shown), "{var}: {text}");
        }
        let err = Config::load_with_env(None, env(&[("J2T__MONITOR__LANGUAGE", "fr")]))
            .expect_err("no French");
        assert_eq!(
            err.to_string(),
            "configuration key `monitor.language`: `fr` is not a language; use zh or en"
        );
    }

    /// A grown window and its overlap stay within JST's 7 days.
    #[test]
    fn grown_windows_leave_room_for_the_overlap() {
        let days = |overlap: &str| {
            Config::load_with_env(None, env(&[("J2T__FETCHER__OVERLAP_SECS", overlap)]))
                .expect("valid")
                .fetcher
                .grown_window_days()
        };
        // 7 days end 1 s before the 8th midnight: 604,799 s + overlap ≤ 604,800.
        assert_eq!(days("0"), 7);
        assert_eq!(days("1"), 7);
        assert_eq!(days("2"), 6);
        assert_eq!(days("3600"), 6);
    }

    /// Rules across keys: the error names the keys and their values.
    #[test]
    fn rules_across_keys_name_keys_and_values() {
        let err = Config::load_with_env(
            None,
            env(&[
                ("J2T__FETCHER__WINDOW_SECS", "600000"),
                ("J2T__FETCHER__OVERLAP_SECS", "5000"),
            ]),
        )
        .expect_err("longer than 7 days");
        let text = err.to_string();
        assert!(
            text.contains("window_secs (600000) + overlap_secs (5000)"),
            "{text}"
        );
        assert!(text.contains("`fetcher`"), "{text}");

        let err = Config::load_with_env(None, env(&[("J2T__FETCHER__MAX_WINDOW_DAYS", "8")]))
            .expect_err("grown windows longer than JST's query");
        let text = err.to_string();
        assert!(
            text.contains("max_window_days (8) is more than 7"),
            "{text}"
        );

        let err = Config::load_with_env(
            None,
            env(&[
                ("J2T__FETCHER__PAGE_SIZE", "1"),
                ("J2T__FETCHER__TASKS__T1__PAGING", "start_ts"),
            ]),
        )
        .expect_err("start_ts with pages of 1");
        let text = err.to_string();
        assert!(text.contains("tasks.t1.page_size is 1"), "{text}");
    }

    #[test]
    fn task_names_are_checked() {
        let path = std::env::temp_dir().join(format!("j2t-config-{}.toml", std::process::id()));
        std::fs::write(&path, "[fetcher.tasks.\"tmall shop\"]\nshop_id = 1\n").expect("write");
        let err = Config::load_with_env(Some(&path), env(&[])).expect_err("space in a name");
        let _ = std::fs::remove_file(&path);
        let text = err.to_string();
        assert!(text.contains("`fetcher.tasks`"), "{text}");
        assert!(text.contains("`tmall shop`"), "{text}");
    }

    #[test]
    fn typed_values_parse() {
        let cfg = Config::load_with_env(
            None,
            env(&[
                ("J2T__MONITOR__LANGUAGE", "en"),
                ("J2T__MONITOR__WEBHOOKS__DING__FORMAT", "dingtalk"),
                (
                    "J2T__MONITOR__WEBHOOKS__DING__URL",
                    "http://127.0.0.1:1/hook",
                ),
                ("J2T__MONITOR__WEBHOOKS__WE__FORMAT", "wecom"),
                ("J2T__MONITOR__WEBHOOKS__WE__URL", "http://127.0.0.1:1/hook"),
                ("J2T__FETCHER__DATE_TYPE", "0"),
                ("J2T__FETCHER__START_TIME", "2026-11-01 08:30:00"),
            ]),
        )
        .expect("valid");
        assert_eq!(cfg.monitor.language, Language::En);
        assert_eq!(cfg.monitor.webhooks["ding"].format, WebhookFormat::DingTalk);
        assert_eq!(cfg.monitor.webhooks["we"].format, WebhookFormat::WeCom);
        let task = &cfg.fetcher.sync_tasks()[0];
        assert_eq!(task.date_type, DateType::Modified);
        let start = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
            .and_then(|d| d.and_hms_opt(8, 30, 0))
            .expect("valid");
        assert_eq!(task.start_time, Some(start));
        // JST's wire format stays the number.
        assert_eq!(serde_json::to_string(&DateType::IoDate).expect("json"), "2");
    }

    #[test]
    fn shipped_statuses_by_task_with_the_deprecated_status_winning_at_its_level() {
        let cfg = Config::load_with_env(
            None,
            env(&[
                ("J2T__FETCHER__STATUS", "Confirmed"),
                (
                    "J2T__FETCHER__TASKS__A__SHIPPED_STATUSES",
                    "Archive Confirmed, Archive",
                ),
                ("J2T__FETCHER__TASKS__B__STATUS", ""),
                ("J2T__FETCHER__TASKS__C__SHOP_ID", "1"),
            ]),
        )
        .expect("valid");
        let statuses: Vec<Vec<String>> = cfg
            .fetcher
            .sync_tasks()
            .into_iter()
            .map(|t| t.statuses)
            .collect();
        assert_eq!(
            statuses,
            [
                vec!["Archive".to_string(), "Confirmed".to_string()],
                vec![],
                vec!["Confirmed".to_string()],
            ],
            "a: its own list (deduplicated); b: status \"\" = every status; c: [fetcher].status"
        );
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
        assert_eq!(
            tasks[1].statuses,
            ["Confirmed"],
            "the deprecated status still works"
        );
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
