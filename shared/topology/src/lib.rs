//! The NATS topology in one place: every stream, subject, consumer and KV bucket name
//! (`names`), their configuration, and `ensure`, which creates or updates them idempotently;
//! plus the plumbing every service uses on it (connect, consume, publish with a PubAck).
//! What is *stored* in that topology lives in `j2t-stores`.

mod capacity;
mod connect;
mod consume;
mod ensure;
pub mod names;
mod publish;
mod subjects;

pub use capacity::{StorageUsage, storage_usage};
pub use connect::{ConnectError, REFUSED_EXIT_CODE, connect};
pub use consume::consume;
pub use ensure::{RetentionShrink, Topology, TopologyError, attach, ensure, open, watch_readiness};
pub use publish::{PublishJsonError, publish_json};
pub use subjects::Subject;
