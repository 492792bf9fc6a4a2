//! The pipeline's state kept in NATS (the buckets and streams `j2t-topology` names and sets
//! up): lineage (io_id → voucher), failed write attempts, API tokens, rate-limit slots, dead
//! letters and their replay, the pipeline status the monitor reads, and `whereis`.

mod attempts;
mod backfill;
mod books_guard;
mod dead_letters;
mod jst_client;
mod kv_tokens;
mod lineage;
mod rate_limit;
mod status;
mod tplus_client;
mod whereis;
mod written;

pub use attempts::{AttemptLog, AttemptsError};
pub use backfill::{Backfill, BackfillStatus};
pub use books_guard::refuse_mixed_setup;
pub use dead_letters::{
    DeadLetters, DlqCount, DlqEntry, DlqError, DlqFilter, DlqPage, PageFrom, Replayed,
    publish_dead_letter,
};
pub use jst_client::{jst_client, jst_spacing};
pub use kv_tokens::KvTokenStore;
pub use lineage::{Claim, Lineage, LineageError, VoucherState};
pub use rate_limit::{DEFAULT_MARGIN_PERCENT, KvRateLimiter, spacing, spacing_with_margin};
pub use status::{
    CursorStatus, DeadLetterKind, PipelineStatus, RefreshRefused, Signals, StageStatus,
    StatusError, pipeline_status, update_signals,
};
pub use tplus_client::tplus_client;
pub use whereis::{ChangeSeen, Whereabouts, WhereisError, whereabouts};
pub use written::{WrittenError, WrittenOrders};
