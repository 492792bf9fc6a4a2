//! What the JST and T+ clients share about access: the token pair, the store that keeps the
//! newest pair for every replica and restart (a refresh invalidates the old pair in both
//! APIs), and the rate limiter every request passes.

mod app;
mod body;
pub mod books_guard;
mod keeper;
mod rate_limit;
pub mod redact;
mod redirect;
mod tokens;

pub use app::AppAccess;
pub use body::{BodyError, JST_BODY_LIMIT, TPLUS_BODY_LIMIT, WEBHOOK_BODY_LIMIT, read_capped};
pub use keeper::{Loaded, RenewError, TokenKeeper};
pub use rate_limit::RateLimiter;
pub use redirect::{Redirect, api_http_client, redirect_of};
pub use tokens::{StoredTokens, TokenStore, Tokens, stored_refresh_expiry};

/// Errors of token stores and rate limiters (NATS in practice).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
