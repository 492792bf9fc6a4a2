//! The sections of [`Config`]; each field's comment is its documentation (see also
//! `config/default.toml`, which holds the default values).

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDateTime;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

pub use crate::nats::{NatsAuth, NatsConfig, NatsKeys, NatsTls};
use crate::values::{
    self, CorrectionPolicy, DateType, Language, SoIds, Statuses, VoucherListOrder, WebhookFormat,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub nats: NatsConfig,
    pub jst: JstConfig,
    pub tplus: TplusConfig,
    pub admin: AdminConfig,
    pub fetcher: FetcherConfig,
    pub transformer: TransformerConfig,
    pub writer: WriterConfig,
    pub monitor: MonitorConfig,
    pub simulator: SimulatorConfig,
    pub corrections: CorrectionsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JstConfig {
    /// `https`, or plain `http` to loopback or a host in `allow_http_hosts`.
    pub base_url: Url,
    /// Hosts `base_url` may name over plain HTTP (commas/spaces between names), e.g. the
    /// simulator's host in compose. Loopback is always allowed.
    pub allow_http_hosts: crate::HostList,
    pub app_key: String,
    pub app_secret: SecretString,
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub timeout_secs: u64,
    /// Offset of JST's zone-less timestamps from UTC, in minutes (China: 480).
    pub utc_offset_minutes: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TplusConfig {
    /// `https`, or plain `http` to loopback or a host in `allow_http_hosts`.
    pub base_url: Url,
    /// Hosts `base_url` may name over plain HTTP (commas/spaces between names), e.g. the
    /// simulator's host in compose. Loopback is always allowed.
    pub allow_http_hosts: crate::HostList,
    pub app_key: String,
    pub app_secret: SecretString,
    pub open_token: SecretString,
    pub refresh_token: SecretString,
    pub timeout_secs: u64,
    /// Business error code T+ uses for a duplicate ExternalCode.
    pub duplicate_code: String,
    /// Text in the error message that marks a duplicate ExternalCode.
    pub duplicate_message_contains: String,
    /// Business error code T+ uses when a voucher's date is in a closed accounting period.
    pub period_closed_code: String,
    /// Text in that error's message that marks a closed period (empty: rule off, such a
    /// refusal is then an unrecognised rejection).
    pub period_closed_message_contains: String,
    /// Text in an Audit refusal meaning the voucher is audited already (counted as audited;
    /// empty: any refusal is an audit failure).
    pub already_audited_message_contains: String,
    /// Client-side limit on T+ calls per second, shared by all writer replicas (0 = none).
    pub requests_per_second: u32,
    /// `FindVoucherList`: rows asked for per page.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub voucher_list_page_size: u32,
    /// `FindVoucherList`: when `data` is an object rather than the rows themselves, the key
    /// holding the rows (not public).
    pub voucher_list_rows_key: String,
    /// `FindVoucherList`: the order its pages list vouchers in (not public); the voucher
    /// index's incremental refresh depends on it.
    pub voucher_list_order: VoucherListOrder,
    /// `FindVoucherList`: the `paramDic` key that filters by ExternalCode (not public; empty =
    /// unknown, lookups use the voucher index).
    pub external_code_filter_key: String,
    /// `GetVoucherDTO`: the business error code that means "no such voucher" (not public).
    pub voucher_not_found_code: String,
    /// `GetVoucherDTO`: text in that error's message (empty = any message with the code).
    pub voucher_not_found_message_contains: String,
    /// The voucher index rereads every page at most this often (seconds); in between it reads
    /// only the pages that can hold new vouchers.
    pub index_rescan_secs: u64,
    /// `inventory/Query` and `warehouse/Query`: rows per page (T+ allows at most 1000).
    #[serde(deserialize_with = "values::tplus_query_page_size")]
    pub master_page_size: u32,
    /// `inventory/Query`: the number of the first page (`PageIndex`; not public).
    pub master_first_page: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of `/healthz` and `/readyz`.
    pub listen: SocketAddr,
}

/// Sync settings shared by every task, plus the defaults of each task's filters: the keys of
/// `[fetcher]` ([`FetcherKeys`]), read with the rules that join several keys checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "FetcherKeys")]
pub struct FetcherConfig(FetcherKeys);

impl std::ops::Deref for FetcherConfig {
    type Target = FetcherKeys;

    fn deref(&self) -> &FetcherKeys {
        &self.0
    }
}

impl std::ops::DerefMut for FetcherConfig {
    /// For callers that adjust settings no cross-key rule involves (the demo's start time).
    fn deref_mut(&mut self) -> &mut FetcherKeys {
        &mut self.0
    }
}

/// `[fetcher]` as written: every key parsed on its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetcherKeys {
    pub initial_lookback_secs: u64,
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub window_secs: u64,
    /// A quiet task's windows grow to at most this many whole days (1: never), within JST's
    /// 7 days with `overlap_secs` (see `grown_window_days`).
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub max_window_days: u32,
    /// Windows end this long before now (JST's data settles).
    pub lag_secs: u64,
    /// Each window's query also covers this much time before the window (late commits).
    pub overlap_secs: u64,
    pub poll_interval_secs: u64,
    /// JST limits of the app, shared by every task and replica.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub requests_per_second: u32,
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub requests_per_minute: u32,
    /// How much slower than the limits the KV schedule spaces requests, in percent (network
    /// jitter between the schedule and JST's clock). 0 still keeps the limits: the spacing
    /// never goes below what keeps any sliding second and minute within them.
    #[serde(deserialize_with = "values::percent")]
    pub rate_margin_percent: u8,
    /// Only the fetcher holding the app's lease polls; a dead holder's lease expires after this.
    #[serde(deserialize_with = "values::at_least::<_, _, 3>")]
    pub lease_ttl_secs: u64,
    /// How long an io_id is remembered as synced (no double counting within this time).
    pub dedup_retention_days: u64,
    /// Orders published but not yet acknowledged (PubAck) at most; the fetcher waits for
    /// them before publishing more, so its memory does not grow with a window's size.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub max_in_flight: usize,
    /// Tries of a JST page whose answer cannot be read before the window attempt fails.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub page_attempts: u32,
    /// Attempts at a window before it is dead-lettered (replayable) and the task moves on.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub max_window_attempts: u32,
    /// Days of the recent past each task reads again for orders that appeared late (0: no
    /// re-check).
    pub recheck_days: u32,
    /// A re-check pass starts this long after the previous one started.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub recheck_interval_secs: u64,
    /// Share of `requests_per_minute` the re-checks of all tasks may use, in percent; they
    /// read only while their own task's live sync is caught up.
    #[serde(deserialize_with = "values::percent")]
    pub recheck_share_percent: u8,
    // Task defaults; also the filters of the implicit task `default` when `tasks` is empty.
    #[serde(default, deserialize_with = "values::jst_time")]
    pub start_time: Option<NaiveDateTime>,
    pub paging: Paging,
    #[serde(deserialize_with = "values::page_size")]
    pub page_size: u32,
    /// The statuses that count as shipped; each is queried on its own (JST's `status`
    /// filter takes one value).
    pub shipped_statuses: Statuses,
    /// Deprecated: one status filter (`""`: none). When set it replaces `shipped_statuses`.
    #[serde(default)]
    pub status: Option<String>,
    pub date_type: DateType,
    pub shop_id: Option<i64>,
    pub wms_co_id: Option<i64>,
    pub is_offline_shop: Option<bool>,
    pub so_ids: Option<SoIds>,
    /// Named sync tasks (e.g. one per shop); each key overrides the defaults above.
    #[serde(default, deserialize_with = "values::task_names")]
    pub tasks: std::collections::BTreeMap<String, TaskConfig>,
}

/// JST answers at most 7 days per query.
pub const MAX_QUERY_SECS: u64 = 7 * 86_400;

impl TryFrom<FetcherKeys> for FetcherConfig {
    type Error = String;

    fn try_from(f: FetcherKeys) -> Result<Self, String> {
        let reach = f.window_secs.saturating_add(f.overlap_secs);
        if reach > MAX_QUERY_SECS {
            return Err(format!(
                "window_secs ({}) + overlap_secs ({}) = {reach} is more than \
                 {MAX_QUERY_SECS} (7 days, JST's longest query)",
                f.window_secs, f.overlap_secs
            ));
        }
        if u64::from(f.max_window_days) * 86_400 > MAX_QUERY_SECS {
            return Err(format!(
                "max_window_days ({}) is more than 7 (JST's longest query)",
                f.max_window_days
            ));
        }
        let cfg = FetcherConfig(f);
        for task in cfg.sync_tasks() {
            if task.paging != Paging::Snapshot && task.page_size < 2 {
                let key = if cfg.tasks.is_empty() {
                    "page_size".to_string()
                } else {
                    format!("tasks.{}.page_size", task.name)
                };
                return Err(format!(
                    "task `{}` pages by {}, which needs a page_size of at least 2, \
                     but {key} is {}",
                    task.name,
                    task.paging.as_str(),
                    task.page_size
                ));
            }
        }
        Ok(cfg)
    }
}

crate::values::word_enum! {
    /// How a window is read page by page (see the fetcher's `paging` module).
    Paging, "paging strategy" {
        /// Keyset paging on `ts` from a counted first page, checked against that count;
        /// a short count falls back to `snapshot` for the range (the default).
        Keyset = "keyset",
        /// Split the window until every part fits in one response (one atomic snapshot each).
        Snapshot = "snapshot",
        /// Keyset paging on the rowversion `ts` (JST's `start_ts`, `is_get_total = false`).
        StartTs = "start_ts",
    }
}

/// Filters of one sync task; unset keys fall back to `[fetcher]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Backfill start (`yyyy-MM-dd HH:mm:ss`, JST local) used while the task has no cursor.
    #[serde(default, deserialize_with = "values::jst_time")]
    pub start_time: Option<NaiveDateTime>,
    pub paging: Option<Paging>,
    #[serde(default, deserialize_with = "values::page_size_opt")]
    pub page_size: Option<u32>,
    pub shipped_statuses: Option<Statuses>,
    /// Deprecated, see [`FetcherKeys::status`].
    pub status: Option<String>,
    pub date_type: Option<DateType>,
    pub shop_id: Option<i64>,
    pub wms_co_id: Option<i64>,
    pub is_offline_shop: Option<bool>,
    /// Online order numbers, separated by commas and/or whitespace.
    pub so_ids: Option<SoIds>,
}

/// One sync task with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncTask {
    pub name: String,
    pub start_time: Option<NaiveDateTime>,
    pub paging: Paging,
    pub page_size: u32,
    /// The statuses read, each with its own queries; empty: no status filter (only through
    /// the deprecated `status = ""`).
    pub statuses: Vec<String>,
    pub date_type: DateType,
    pub shop_id: Option<i64>,
    pub wms_co_id: Option<i64>,
    pub is_offline_shop: Option<bool>,
    pub so_ids: Vec<String>,
}

impl FetcherConfig {
    /// The most whole days a grown window may span: `max_window_days`, one day less while
    /// the overlap would take the query past JST's 7 days.
    pub fn grown_window_days(&self) -> u32 {
        let room = (MAX_QUERY_SECS + 1).saturating_sub(self.overlap_secs) / 86_400;
        self.max_window_days.min(room as u32)
    }

    /// The tasks to run: the configured ones, or `default` built from `[fetcher]`.
    pub fn sync_tasks(&self) -> Vec<SyncTask> {
        let d = self;
        let resolve = |name: &str, t: &TaskConfig| SyncTask {
            name: name.to_string(),
            start_time: t.start_time.or(d.start_time),
            paging: t.paging.unwrap_or(d.paging),
            page_size: t.page_size.unwrap_or(d.page_size),
            // A task's keys before [fetcher]'s; at each level the deprecated single `status`
            // before `shipped_statuses`.
            statuses: match (&t.status, &t.shipped_statuses, &d.status) {
                (Some(status), _, _) => single_status(status),
                (None, Some(list), _) => list.as_slice().to_vec(),
                (None, None, Some(status)) => single_status(status),
                (None, None, None) => d.shipped_statuses.as_slice().to_vec(),
            },
            date_type: t.date_type.unwrap_or(d.date_type),
            shop_id: t.shop_id.or(d.shop_id),
            wms_co_id: t.wms_co_id.or(d.wms_co_id),
            is_offline_shop: t.is_offline_shop.or(d.is_offline_shop),
            so_ids: t
                .so_ids
                .as_ref()
                .or(d.so_ids.as_ref())
                .map(|ids| ids.as_slice().to_vec())
                .unwrap_or_default(),
        };
        if self.tasks.is_empty() {
            vec![resolve("default", &TaskConfig::default())]
        } else {
            self.tasks.iter().map(|(n, t)| resolve(n, t)).collect()
        }
    }
}

/// The deprecated `status` key: one status, or none (`""`: every status).
fn single_status(status: &str) -> Vec<String> {
    Some(status.trim().to_string())
        .filter(|s| !s.is_empty())
        .into_iter()
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerConfig {
    pub mapping_file: Option<PathBuf>,
    pub ack_wait_secs: u64,
    /// Deliveries of a window event before it is dead-lettered (replayable).
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub max_deliver: i64,
    /// Orders one window may hold: the transformer reads a whole window (the merge scope)
    /// into memory, so a larger one is dead-lettered instead of exhausting memory.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub max_window_orders: u64,
    /// Check every order's warehouse and inventory codes against a cached copy of T+'s
    /// master data before merging; an order naming a code T+ lacks is held as a dead letter
    /// (`unknown_inventory` / `unknown_warehouse`) while the rest of its window is written.
    pub check_master_data: bool,
    /// The cached master data is read again this often.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub master_data_refresh_secs: u64,
    /// A window naming a code the cache lacks reads the master data again, at most this
    /// often (0: on every such window).
    pub master_data_miss_refresh_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterConfig {
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub concurrency: usize,
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub max_deliver: i64,
    pub ack_wait_secs: u64,
    pub quick_retries: usize,
    pub retry_base_secs: u64,
    pub max_retry_delay_secs: u64,
    /// While T+ reports the monthly quota exhausted (50112), wait this long between tries
    /// (holding the voucher: no delivery is used up).
    pub quota_pause_secs: u64,
    /// This many transient failures in a row (timeouts, connection errors, 5xx, …) and the
    /// replica takes T+ to be down: it holds its vouchers and probes with one call at a time.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub outage_after_failures: u32,
    /// While T+ is down, one probe call this often (a longer Retry-After wins).
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub outage_probe_secs: u64,
    /// Audit (审核) each voucher with `OtherDispatchOpenApi/Audit` once T+ has it.
    pub audit: bool,
}

/// The monitor service: alert rules and the operator console.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Address of the operator console (web page and its API).
    pub console_listen: SocketAddr,
    /// Token the console asks for (Bearer header or login form). Empty disables the console.
    pub console_token: SecretString,
    /// How often the alert rules are evaluated.
    pub evaluate_every_secs: u64,
    /// Alert when nothing was written for this long while vouchers wait (0 = rule off).
    pub no_write_minutes: u64,
    /// Alert when a sync task's cursor is this far behind now (0 = rule off).
    pub cursor_lag_alert_secs: u64,
    /// Alert after this many consecutive T+ auth failures (0 = rule off).
    pub auth_failures_alert: u64,
    /// Warn this many days before a stored refresh token expires, where the refresh answer
    /// said when (T+ `refresh_expires_in`; 0 = rule off).
    pub refresh_token_warn_days: u64,
    /// Alert when a stream or bucket holds this share of its byte limit, in percent
    /// (0 = rule off).
    #[serde(deserialize_with = "values::percent")]
    pub storage_alert_percent: u8,
    /// While an alert keeps firing, repeat it at most this often (0 = announce once).
    pub renotify_secs: u64,
    /// Language of alert messages: `zh` or `en`.
    pub language: Language,
    /// Reconcile the books (JST against T+) once a day. Off by default: it reads T+ (its
    /// query APIs must be enabled for the app) and uses part of the JST rate budget.
    pub reconcile_enabled: bool,
    /// When the daily reconcile (and the digest) runs, `HH:MM` in JST local time
    /// (`jst.utc_offset_minutes`). A monitor started later that day runs it at once.
    #[serde(deserialize_with = "values::clock_time")]
    pub reconcile_at: chrono::NaiveTime,
    /// The daily reconcile covers this many days, ending yesterday (1 to 92).
    #[serde(deserialize_with = "values::reconcile_days")]
    pub reconcile_days: u32,
    /// A run taking longer fails ("could not run"); a run claimed this long ago (plus ten
    /// minutes) by a monitor that died is taken over by another.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub reconcile_timeout_minutes: u64,
    /// Runs per day at most: a run that could not run is tried again 30 minutes later.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub reconcile_attempts: u32,
    /// Send a short daily digest to the webhooks at `reconcile_at` (after the reconcile).
    pub digest_enabled: bool,
    /// Alert receivers by name.
    #[serde(default)]
    pub webhooks: std::collections::BTreeMap<String, WebhookConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Receiver URL (it may embed a robot's access token, so it is treated as a secret).
    pub url: SecretString,
    /// `generic` (JSON), `dingtalk` (DingTalk robot), `wecom` (WeCom robot) or `feishu`
    /// (Feishu/Lark robot).
    pub format: WebhookFormat,
    /// The robot's signing secret (加签, `SEC…`), for `dingtalk` and `feishu` robots whose
    /// security setting is a signature. Unset or empty: messages go unsigned.
    #[serde(default)]
    pub secret: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    pub jst_listen: SocketAddr,
    pub tplus_listen: SocketAddr,
    /// Orders generated at start-up (0 = none).
    pub demo_orders: u32,
    pub demo_days: u32,
    pub demo_seed: u64,
}

/// Orders JST changes after their voucher was written (cancelled, edited): how they are
/// found and what is done about them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionsConfig {
    /// `report` (alert + dead letter) or `reverse` (a correction voucher).
    pub policy: CorrectionPolicy,
    /// How long the lines written for each order are kept, and changes to it watched.
    #[serde(deserialize_with = "values::at_least::<_, _, 1>")]
    pub watch_days: u32,
    /// The fetcher reads the orders JST modified since its last scan this often
    /// (0 = no change scan).
    pub scan_every_secs: u64,
}
