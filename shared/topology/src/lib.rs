//! The NATS topology in one place: every stream, subject, consumer and KV bucket name, their
//! configuration, and `ensure`, which creates or updates them idempotently. Whichever service
//! starts first sets them up; the others find them in place.

mod attempts;
mod connect;
mod consume;
mod dead_letters;
mod ensure;
mod kv_tokens;
mod lineage;
pub mod names;
mod publish;
mod rate_gate;
mod status;
mod whereis;

pub use attempts::{AttemptLog, AttemptsError};
pub use connect::connect;
pub use consume::consume;
pub use dead_letters::{DeadLetters, DlqEntry, DlqError, DlqFilter, Replayed};
pub use ensure::{Topology, TopologyError, ensure, open, watch_readiness};
pub use kv_tokens::KvTokenStore;
pub use lineage::{Claim, Lineage, LineageError, VoucherState};
pub use publish::{PublishJsonError, publish_dead_letter, publish_json};
pub use rate_gate::{KvRateGate, spacing};
pub use status::{
    CursorStatus, PipelineStatus, Signals, StageStatus, StatusError, pipeline_status,
    update_signals,
};
pub use whereis::{Whereabouts, WhereisError, whereabouts};
