//! The simulated Jushuitan, faithful to `docs/jushuitan-api.md`: the outbound query and the
//! token endpoints, JST's rate limits, injectable faults (throttling, 502s, latency, token
//! expiry, data drift during paging), late commits and orders changed after shipping.

mod admin;
mod admission;
mod auth;
mod changes;
mod drift;
mod faults;
mod filter;
mod limits;
mod query;

use std::collections::BTreeMap;

use axum::Router;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use admin::{
    EXPIRE_TOKEN_PATH, FAULTS_PATH, LATE_ORDERS_PATH, LateOrders, ORDERS_PATH, TOKENS_PATH,
};
pub use auth::{EXPIRES_IN_SECS, INIT_TOKEN_PATH, REFRESH_TOKEN_PATH};
pub use changes::OrderChange;
pub use drift::{DriftEvent, DriftKind};
pub use faults::JstFaults;

use crate::state::Store;
use crate::tokens::TokenPair;

/// The JST API endpoints.
pub fn routes() -> Router<Store> {
    query::routes().merge(auth::routes())
}

/// Admin endpoints for the JST faults and tokens.
pub fn admin_routes() -> Router<Store> {
    admin::routes()
}

/// JST's mutable state. It lives under the store's one lock, next to the orders, so a drift
/// mutation draws from the fault RNG and changes orders in one step. No `Debug`: it holds
/// the tokens.
pub struct JstState {
    pub tokens: TokenPair,
    pub limiter: limits::RateLimiter,
    pub faults: JstFaults,
    /// Decides every injected fault; reseeded from `faults.seed` when the faults are set.
    pub rng: StdRng,
    /// Requests refused for breaking the real (configured) rate limits, per app_key.
    pub violations: BTreeMap<String, u64>,
    /// Answers by JST code (`"0"`, `"100"`, …) or `"http502"`.
    pub requests_by_code: BTreeMap<String, u64>,
    /// Token pairs issued by getInitToken or refreshToken.
    pub token_refreshes: u64,
    pub drift_events: Vec<DriftEvent>,
}

impl JstState {
    pub fn new(access_token: String, refresh_token: String) -> Self {
        let faults = JstFaults::default();
        Self {
            tokens: TokenPair::new(access_token, refresh_token),
            limiter: limits::RateLimiter::default(),
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            violations: BTreeMap::new(),
            requests_by_code: BTreeMap::new(),
            token_refreshes: 0,
            drift_events: Vec::new(),
        }
    }

    pub fn set_faults(&mut self, faults: JstFaults) {
        self.rng = StdRng::seed_from_u64(faults.seed);
        self.faults = faults;
    }
}
