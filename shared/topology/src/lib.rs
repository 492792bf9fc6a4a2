//! The NATS topology in one place: every stream, subject, consumer and KV bucket name, their
//! configuration, and `ensure`, which creates or updates them idempotently. Whichever service
//! starts first sets them up; the others find them in place.

mod connect;
mod consume;
mod ensure;
pub mod names;
mod publish;

pub use connect::connect;
pub use consume::consume;
pub use ensure::{Topology, TopologyError, ensure, open};
pub use publish::{PublishJsonError, publish_dead_letter, publish_json};
