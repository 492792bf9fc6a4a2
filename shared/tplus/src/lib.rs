//! Chanjet T+ OpenAPI client, and the pure classification of every answer into what the
//! writer does next. Facts: `docs/tplus-api.md`.

mod classify;
mod client;

pub use classify::{Answer, Outcome, ReplyRule, Rules, classify, is_auth_failure};
pub use client::{OTHER_DISPATCH_CREATE_PATH, REFRESH_TOKEN_PATH, TplusClient};
