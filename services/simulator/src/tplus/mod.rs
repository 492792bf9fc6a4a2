//! The simulated T+, faithful to `docs/tplus-api.md`: `otherDispatch/Create` (header auth,
//! dto validation, master data, ExternalCode uniqueness), the openToken refresh endpoint, and
//! injectable faults (503, 409 throttling, timeout after commit, latency, exhausted quota,
//! token expiry).

mod admin;
mod admission;
mod auth;
mod create;
mod dto;
mod faults;
mod master_data;

use std::collections::BTreeMap;

use axum::Router;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use admin::{
    TPLUS_EXPIRE_TOKEN_PATH, TPLUS_FAULTS_PATH, TPLUS_INVENTORIES_PATH, TPLUS_MASTER_DATA_PATH,
    TPLUS_WAREHOUSES_PATH,
};
pub use auth::{OPEN_TOKEN_EXPIRES_IN_SECS, REFRESH_EXPIRES_IN_SECS, TPLUS_REFRESH_TOKEN_PATH};
pub use faults::{DEFAULT_TIMEOUT_AFTER_COMMIT_MS, TplusFaults};
pub use master_data::MasterData;

use crate::state::Store;
use crate::tokens::TokenPair;

/// The T+ API endpoints.
pub fn routes() -> Router<Store> {
    create::routes().merge(auth::routes())
}

/// Admin endpoints for the T+ faults, token and master data.
pub fn admin_routes() -> Router<Store> {
    admin::routes()
}

/// T+'s mutable state. It lives under the store's one lock, next to the vouchers, so the
/// master-data check, the duplicate check and the insert of one Create call happen in one
/// step. No `Debug`: it holds the tokens.
pub struct TplusState {
    /// The accepted openToken and the refresh token (they change when a client refreshes).
    pub tokens: TokenPair,
    pub faults: TplusFaults,
    /// Decides every injected fault; reseeded from `faults.seed` when the faults are set.
    pub rng: StdRng,
    pub master: MasterData,
    /// Answers by stats key, see [`crate::Stats::tplus_requests_by_code`].
    pub requests_by_code: BTreeMap<String, u64>,
    /// Token pairs issued by refreshToken.
    pub token_refreshes: u64,
    /// Vouchers stored under the timeout-after-commit fault.
    pub committed_late: u64,
}

impl TplusState {
    pub fn new(open_token: String, refresh_token: String) -> Self {
        let faults = TplusFaults::default();
        Self {
            tokens: TokenPair::new(open_token, refresh_token),
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            master: MasterData::demo(),
            requests_by_code: BTreeMap::new(),
            token_refreshes: 0,
            committed_late: 0,
        }
    }

    pub fn set_faults(&mut self, faults: TplusFaults) {
        self.rng = StdRng::seed_from_u64(faults.seed);
        self.faults = faults;
    }
}
