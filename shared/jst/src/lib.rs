//! Jushuitan (聚水潭) open API client: request signing, form encoding and typed errors.
//! Facts: `jushuitan-api.md` in the project docs.

mod client;
mod error;
mod gate;
mod query;
mod sign;
mod tokens;

pub use client::{JstClient, OUTBOUND_QUERY_PATH, REFRESH_TOKEN_PATH};
pub use error::{ApiCode, JstError};
pub use gate::RequestGate;
pub use query::{OutboundPage, OutboundQuery};
pub use sign::sign;
pub use tokens::{TokenStore, Tokens};
