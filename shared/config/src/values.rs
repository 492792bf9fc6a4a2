//! The value types of configuration keys: each parses its value while the configuration is
//! read, so a bad value stops the load with an error naming the value (and, added by the
//! loader, the key: "… for key `monitor.language`"). Code using the configuration never
//! re-checks them.

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Deserialize, Deserializer, de};

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn one_of(words: &[&str]) -> String {
    match words.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// An enum written as one of a few words. Its error names the bad value and the words
/// allowed (config's own enum error names neither the choices nor, clearly, the value).
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the order documented.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The word in the configuration.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim() {
                    $($word => Ok($name::$variant),)+
                    other => Err(format!(
                        concat!("`{}` is not a ", $what, "; use {}"),
                        other,
                        $crate::values::one_of(&[$($word),+])
                    )),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str {
                v.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use word_enum;

word_enum! {
    /// The order `FindVoucherList` pages list vouchers in (`tplus.voucher_list_order`).
    VoucherListOrder, "voucher list order" {
        /// Oldest first: new vouchers are appended to the last page.
        OldestFirst = "oldest_first",
        /// Newest first: new vouchers push every row down.
        NewestFirst = "newest_first",
    }
}

word_enum! {
    /// What happens when JST changes an order after its voucher was written
    /// (`corrections.policy`).
    CorrectionPolicy, "corrections policy" {
        /// An alert and a dead letter `changed_after_write`; T+ is left as it is.
        Report = "report",
        /// A correction voucher for the difference (its form: the mapping's `[corrections]`).
        Reverse = "reverse",
    }
}

word_enum! {
    /// Language of alert messages (`monitor.language`).
    Language, "language" { Zh = "zh", En = "en" }
}

word_enum! {
    /// The body a webhook receiver expects (`monitor.webhooks.NAME.format`).
    WebhookFormat, "webhook format" {
        /// JSON for Alertmanager-style webhooks and scripts.
        Generic = "generic",
        /// DingTalk robot markdown.
        DingTalk = "dingtalk",
        /// WeCom robot markdown.
        WeCom = "wecom",
        /// Feishu (飞书, Lark) robot text.
        Feishu = "feishu",
    }
}

/// Which of an order's times JST's `modified_begin`/`modified_end` window filters on
/// (`date_type`, a number in the config and on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(try_from = "i64", into = "u8")]
pub enum DateType {
    /// 0: the order's `modified` time (an order edited later comes back in a later window).
    Modified,
    /// 2: the order's `io_date`, its ship time.
    IoDate,
}

impl DateType {
    /// JST's code.
    pub fn code(self) -> u8 {
        match self {
            DateType::Modified => 0,
            DateType::IoDate => 2,
        }
    }
}

impl From<DateType> for u8 {
    fn from(t: DateType) -> u8 {
        t.code()
    }
}

impl TryFrom<i64> for DateType {
    type Error = String;

    fn try_from(code: i64) -> Result<Self, String> {
        match code {
            0 => Ok(DateType::Modified),
            2 => Ok(DateType::IoDate),
            other => Err(format!(
                "{other} is not a date_type JST supports here; use 0 (modified) or 2 (io_date)"
            )),
        }
    }
}

/// Online order numbers (`so_ids`): written as one string separated by commas and/or
/// whitespace, at most 50 (JST's limit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SoIds(Vec<String>);

impl SoIds {
    /// JST accepts at most this many ids in one query.
    pub const MAX: usize = 50;

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl TryFrom<String> for SoIds {
    type Error = String;

    fn try_from(ids: String) -> Result<Self, String> {
        let ids = split_ids(&ids);
        if ids.len() > Self::MAX {
            return Err(format!(
                "so_ids holds {} ids (`{} …`); JST accepts at most {}",
                ids.len(),
                ids[..3].join(", "),
                Self::MAX
            ));
        }
        Ok(SoIds(ids))
    }
}

/// JST outbound statuses (`docs/jushuitan-api.md`): the `status` filter takes one of them.
pub const JST_STATUSES: [&str; 6] = [
    "WaitConfirm",
    "Confirmed",
    "Delete",
    "Cancelled",
    "OuterConfirming",
    "Archive",
];

/// The statuses that count as shipped (`fetcher.shipped_statuses`): one or more of
/// [`JST_STATUSES`], written as one text separated by commas and/or spaces (like `so_ids`,
/// so one environment variable can set it), each once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Statuses(Vec<String>);

impl Statuses {
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl TryFrom<String> for Statuses {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let mut statuses: Vec<String> = Vec::new();
        for status in split_ids(&text) {
            if !JST_STATUSES.contains(&status.as_str()) {
                return Err(format!(
                    "`{status}` is not a JST outbound status; use {} (case matters)",
                    one_of(&JST_STATUSES)
                ));
            }
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        if statuses.is_empty() {
            return Err(format!(
                "give at least one status, e.g. \"Confirmed, Archive\" (of {})",
                one_of(&JST_STATUSES)
            ));
        }
        Ok(Statuses(statuses))
    }
}

/// Splits `"A1, B2  C3"` into `["A1", "B2", "C3"]`.
pub fn split_ids(ids: &str) -> Vec<String> {
    ids.split(|c: char| c == ',' || c == '，' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A JST local time, `yyyy-MM-dd HH:mm:ss` (`start_time`).
pub(crate) fn jst_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    j2t_domain::jst_time::parse(&text)
        .map(Some)
        .map_err(de::Error::custom)
}

/// A number of at least `MIN` (rates, concurrency, lease ttl, …).
pub(crate) fn at_least<'de, D, T, const MIN: i64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Copy + TryInto<i64> + fmt::Display,
{
    let value = T::deserialize(d)?;
    match value.try_into() {
        Ok(n) if n < MIN => Err(de::Error::custom(format!(
            "{value} is too small: must be at least {MIN}"
        ))),
        // Beyond i64: certainly at least MIN.
        _ => Ok(value),
    }
}

/// A share in percent: 0 to 100.
pub(crate) fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let value = u8::deserialize(d)?;
    if value > 100 {
        return Err(de::Error::custom(format!(
            "{value} is out of range; a percentage is 0 to 100"
        )));
    }
    Ok(value)
}

/// A time of day, `HH:MM` (24 h), e.g. `monitor.reconcile_at`.
pub(crate) fn clock_time<'de, D: Deserializer<'de>>(d: D) -> Result<chrono::NaiveTime, D::Error> {
    let text = String::deserialize(d)?;
    chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
        de::Error::custom(format!(
            "`{text}` is not a time of day; write HH:MM, e.g. 06:30"
        ))
    })
}

/// Days of one scheduled reconcile: 1 to 92 (a quarter; longer ranges are the CLI's job).
pub(crate) fn reconcile_days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let days = u32::deserialize(d)?;
    if !(1..=92).contains(&days) {
        return Err(de::Error::custom(format!(
            "{days} is out of range; a scheduled reconcile covers 1 to 92 days"
        )));
    }
    Ok(days)
}

/// The page size of T+'s `Query` services: 1 to 1000.
pub(crate) fn tplus_query_page_size<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let size = u32::deserialize(d)?;
    if !(1..=1000).contains(&size) {
        return Err(de::Error::custom(format!(
            "{size} is out of range; T+ Query pages hold 1 to 1000 rows"
        )));
    }
    Ok(size)
}

/// JST's page size: 1 to 50.
pub(crate) fn page_size<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let size = u32::deserialize(d)?;
    if !(1..=50).contains(&size) {
        return Err(de::Error::custom(format!(
            "{size} is out of range; JST pages hold 1 to 50 orders"
        )));
    }
    Ok(size)
}

/// `Option` of [`page_size`].
pub(crate) fn page_size_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct Checked(#[serde(deserialize_with = "page_size")] u32);
    Ok(Option::<Checked>::deserialize(d)?.map(|c| c.0))
}

/// A string with something in it (`nats.url`).
pub(crate) fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(de::Error::custom(format!(
            "`{text}` is blank; name a server"
        )));
    }
    Ok(text)
}

/// Task names become NATS subject tokens and KV keys: `A-Z a-z 0-9 - _` only.
pub(crate) fn task_names<'de, D, V>(d: D) -> Result<std::collections::BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    let tasks = std::collections::BTreeMap::<String, V>::deserialize(d)?;
    for name in tasks.keys() {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(de::Error::custom(format!(
                "task name `{name}` is not allowed: task names use only A-Z a-z 0-9 - _"
            )));
        }
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::Config;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, crate::ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with_env(None, Some(env))
    }

    #[test]
    fn the_daily_reconcile_keys_parse_and_name_bad_values() {
        let cfg = load(&[("J2T__MONITOR__RECONCILE_AT", "23:45")]).expect("valid");
        assert_eq!(
            cfg.monitor.reconcile_at,
            chrono::NaiveTime::from_hms_opt(23, 45, 0).expect("time")
        );
        for (var, value, shown) in [
            (
                "J2T__MONITOR__RECONCILE_AT",
                "6am",
                "`6am` is not a time of day",
            ),
            ("J2T__MONITOR__RECONCILE_AT", "24:00", "`24:00`"),
            ("J2T__MONITOR__RECONCILE_DAYS", "0", "0 is out of range"),
            ("J2T__MONITOR__RECONCILE_DAYS", "93", "93 is out of range"),
            (
                "J2T__MONITOR__RECONCILE_TIMEOUT_MINUTES",
                "0",
                "0 is too small",
            ),
        ] {
            let text = load(&[(var, value)]).expect_err(var).to_string();
            let key = var
                .trim_start_matches("J2T__")
                .replace("__", ".")
                .to_lowercase();
            assert!(text.contains(&format!("`{key}`")), "{text}");
            assert!(text.contains(shown), "{text}");
        }
    }
}
