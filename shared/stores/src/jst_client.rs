//! The JST client every reader of JST builds alike (the fetcher, `jst2tplus reconcile`):
//! tokens in KV (`j2t_tokens`) and one rate-limit schedule per app in KV (`j2t_rate`), so
//! processes running side by side share the app's limits and never exceed them together.

use std::sync::Arc;

use j2t_config::{Config, FetcherConfig};
use j2t_jst::JstClient;
use j2t_topology::{Topology, names};

use crate::{KvRateLimiter, KvTokenStore};

/// The gap the app's JST schedule keeps between two requests (what the client's limiter
/// spaces them by): for estimates of how long a number of requests takes.
pub fn jst_spacing(fetcher: &FetcherConfig) -> std::time::Duration {
    crate::spacing_with_margin(
        fetcher.requests_per_second,
        fetcher.requests_per_minute,
        fetcher.rate_margin_percent,
    )
}

pub fn jst_client(cfg: &Config, topology: &Topology) -> Result<JstClient, reqwest::Error> {
    let store = KvTokenStore::new(
        topology.tokens.clone(),
        names::jst_tokens_key(&cfg.jst.app_key),
    );
    let limiter = KvRateLimiter::with_margin(
        topology.rate.clone(),
        names::jst_rate_key(&cfg.jst.app_key),
        cfg.fetcher.requests_per_second,
        cfg.fetcher.requests_per_minute,
        cfg.fetcher.rate_margin_percent,
    );
    JstClient::with_parts(&cfg.jst, Some(Arc::new(store)), Some(Arc::new(limiter)))
}
