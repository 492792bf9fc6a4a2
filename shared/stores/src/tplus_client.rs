//! The T+ client every service builds alike.

use std::sync::Arc;

use j2t_config::Config;
use j2t_topology::{Topology, names};
use j2t_tplus::TplusClient;

use crate::{KvRateLimiter, KvTokenStore};

/// A T+ client whose tokens live in NATS KV (shared with every replica and service, kept
/// across restarts) and whose calls share the KV rate limit `tplus.requests_per_second`
/// (0 = none). Call `load_stored_tokens` before the first request.
pub fn tplus_client(cfg: &Config, topology: &Topology) -> Result<TplusClient, reqwest::Error> {
    let store = KvTokenStore::new(
        topology.tokens.clone(),
        names::tplus_tokens_key(&cfg.tplus.app_key),
    );
    let per_second = cfg.tplus.requests_per_second;
    let limiter = (per_second > 0).then(|| {
        Arc::new(KvRateLimiter::new(
            topology.rate.clone(),
            names::tplus_rate_key(&cfg.tplus.app_key),
            per_second,
            per_second.saturating_mul(60),
        )) as Arc<dyn j2t_upstream::RateLimiter>
    });
    TplusClient::with_parts(&cfg.tplus, Some(Arc::new(store)), limiter)
}
