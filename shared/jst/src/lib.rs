//! Jushuitan (聚水潭) open API client: request signing, form encoding, typed errors, token
//! refresh.
//! Facts: `docs/jushuitan-api.md`.

mod client;
mod error;
mod page;
pub mod paging;
mod query;
mod sign;

pub use client::{JstClient, OUTBOUND_QUERY_PATH, REFRESH_TOKEN_PATH};
pub use error::{ApiCode, JstError};
pub use j2t_upstream::{RateLimiter, TokenStore, Tokens};
pub use page::UnreadableOrder;
pub use query::{OutboundPage, OutboundQuery};
pub use sign::sign;
