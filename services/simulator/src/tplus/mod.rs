//! The simulated T+, faithful to `docs/tplus-api.md`: `otherDispatch/Create` (header auth,
//! dto validation, master data, ExternalCode uniqueness, closed periods), the read endpoints
//! (FindVoucherList, GetVoucherDTO, Audit, inventory/Query, warehouse/Query), the openToken
//! refresh endpoint, injectable faults (503, 409 throttling, timeout after commit, latency,
//! exhausted quota, token expiry) and answer knobs (duplicate reply, closed period, list
//! shape).

mod admin;
mod admission;
mod auth;
mod create;
mod dto;
mod faults;
mod master_data;
mod queries;
mod replies;
mod vouchers;

use std::collections::BTreeMap;

use axum::Router;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use admin::{
    TPLUS_CLOSED_PERIOD_PATH, TPLUS_DUPLICATE_REPLY_PATH, TPLUS_EXPIRE_TOKEN_PATH,
    TPLUS_FAULTS_PATH, TPLUS_INVENTORIES_PATH, TPLUS_MASTER_DATA_PATH, TPLUS_TOKENS_PATH,
    TPLUS_VOUCHER_LIST_PATH, TPLUS_VOUCHERS_PATH, TPLUS_WAREHOUSES_PATH,
};
pub use auth::{OPEN_TOKEN_EXPIRES_IN_SECS, REFRESH_EXPIRES_IN_SECS, TPLUS_REFRESH_TOKEN_PATH};
pub use faults::{DEFAULT_TIMEOUT_AFTER_COMMIT_MS, TplusFaults};
pub use master_data::MasterData;
pub use replies::{ClosedPeriod, ListShape, Replies, Reply, VoucherListKnobs};

use crate::state::Store;
use crate::tokens::TokenPair;

/// The T+ API endpoints.
pub fn routes() -> Router<Store> {
    create::routes()
        .merge(auth::routes())
        .merge(vouchers::routes())
        .merge(queries::routes())
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
    /// Decides every injected fault of Create; reseeded from `faults.seed` when the faults
    /// are set.
    pub rng: StdRng,
    /// Decides the injected faults of the read endpoints: a separate stream, so reads do not
    /// change Create's fault sequence for a seed.
    pub read_rng: StdRng,
    /// Answer knobs (duplicate reply, closed period, voucher list shape).
    pub replies: Replies,
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
            read_rng: StdRng::seed_from_u64(read_seed(faults.seed)),
            replies: Replies::default(),
            faults,
            master: MasterData::demo(),
            requests_by_code: BTreeMap::new(),
            token_refreshes: 0,
            committed_late: 0,
        }
    }

    pub fn set_faults(&mut self, faults: TplusFaults) {
        self.rng = StdRng::seed_from_u64(faults.seed);
        self.read_rng = StdRng::seed_from_u64(read_seed(faults.seed));
        self.faults = faults;
    }
}

/// The read RNG's seed: derived from the fault seed, but a different stream.
fn read_seed(seed: u64) -> u64 {
    seed ^ 0x005E_ED0F_2EAD
}
