//! The sections of [`Config`]; each field's comment is its documentation (see also
//! `config/default.toml`, which holds the default values).

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

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
    pub simulator: SimulatorConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// NATS server URL, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JstConfig {
    pub base_url: Url,
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
    pub base_url: Url,
    pub app_key: String,
    pub app_secret: SecretString,
    pub open_token: SecretString,
    pub refresh_token: SecretString,
    pub timeout_secs: u64,
    /// Business error code T+ uses for a duplicate ExternalCode.
    pub duplicate_code: String,
    /// Text in the error message that marks a duplicate ExternalCode.
    pub duplicate_message_contains: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of `/healthz` and `/readyz`.
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetcherConfig {
    pub task: String,
    pub start_time: Option<String>,
    pub initial_lookback_secs: u64,
    pub window_secs: u64,
    pub lag_secs: u64,
    pub poll_interval_secs: u64,
    pub page_size: u32,
    pub status: String,
    pub date_type: u8,
    pub shop_id: Option<i64>,
    pub wms_co_id: Option<i64>,
    pub is_offline_shop: Option<bool>,
    pub min_request_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerConfig {
    pub mapping_file: Option<PathBuf>,
    pub ack_wait_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterConfig {
    pub concurrency: usize,
    pub max_deliver: i64,
    pub ack_wait_secs: u64,
    pub quick_retries: usize,
    pub retry_base_secs: u64,
    pub max_retry_delay_secs: u64,
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
