//! Jushuitan (聚水潭) open API client: request signing, form encoding and typed errors.
//! Facts: `jushuitan-api.md` in the project docs.

mod client;
mod error;
mod query;
mod sign;

pub use client::{JstClient, OUTBOUND_QUERY_PATH};
pub use error::{ApiCode, JstError};
pub use query::{OutboundPage, OutboundQuery};
pub use sign::sign;
