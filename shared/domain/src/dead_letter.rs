use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Fetcher,
    Transformer,
    Writer,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Fetcher, Stage::Transformer, Stage::Writer];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Fetcher => "fetcher",
            Stage::Transformer => "transformer",
            Stage::Writer => "writer",
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| format!("unknown stage `{s}` (known: fetcher, transformer, writer)"))
    }
}

/// Why a message was dead-lettered: a subject token (`j2t.dlq.<stage>.<reason>`) and a
/// metric label, so the set is closed and small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// Transformer: a window-closed event that is not one.
    BadEvent,
    /// Fetcher or transformer: an order that is not JSON (invalid UTF-8, a lone surrogate,
    /// broken syntax); the payload holds its raw text.
    BadJson,
    /// Fetcher or transformer: an order the mapping cannot take (the error says why).
    BadOrder,
    /// Writer: a voucher message that is not a voucher envelope.
    BadPayload,
    /// Writer: T+ refused the voucher as it is.
    Rejected,
    /// Writer: still failing after `max_deliver` deliveries.
    RetriesExhausted,
    /// Fetcher: an order larger than NATS's max payload (the payload holds its io_id and the
    /// start of its text).
    TooLarge,
    /// Fetcher or transformer: a window still failing after its allowed attempts; replay
    /// runs it again.
    WindowFailed,
    /// Transformer: orders naming an inventory (SKU) code T+ does not have; held back while
    /// the rest of their day is written, replayed as one more voucher once T+ has the code.
    UnknownInventory,
    /// Transformer: orders naming a warehouse code T+ does not have; as `UnknownInventory`.
    UnknownWarehouse,
    /// Writer: T+ refused the voucher because its date is in a closed accounting period.
    PeriodClosed,
    /// Writer: T+ has the voucher but auditing it (审核, `writer.audit`) failed; replay posts
    /// it again (found as already there) and audits it again.
    AuditFailed,
    /// Transformer: JST changed (cancelled, edited) an order after its voucher was written
    /// and `corrections.policy` is `report`; replay applies the policy in force then.
    ChangedAfterWrite,
}

impl DeadLetterReason {
    pub const ALL: [DeadLetterReason; 13] = [
        Self::BadEvent,
        Self::BadJson,
        Self::BadOrder,
        Self::BadPayload,
        Self::Rejected,
        Self::RetriesExhausted,
        Self::TooLarge,
        Self::WindowFailed,
        Self::UnknownInventory,
        Self::UnknownWarehouse,
        Self::PeriodClosed,
        Self::AuditFailed,
        Self::ChangedAfterWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadEvent => "bad_event",
            Self::BadJson => "bad_json",
            Self::BadOrder => "bad_order",
            Self::BadPayload => "bad_payload",
            Self::Rejected => "rejected",
            Self::RetriesExhausted => "retries_exhausted",
            Self::TooLarge => "too_large",
            Self::WindowFailed => "window_failed",
            Self::UnknownInventory => "unknown_inventory",
            Self::UnknownWarehouse => "unknown_warehouse",
            Self::PeriodClosed => "period_closed",
            Self::AuditFailed => "audit_failed",
            Self::ChangedAfterWrite => "changed_after_write",
        }
    }
}

impl std::fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeadLetterReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
                format!(
                    "unknown dead-letter reason `{s}` (known: {})",
                    known.join(", ")
                )
            })
    }
}

/// A message a stage could not process, kept with everything needed to understand and
/// replay it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub stage: Stage,
    pub reason: DeadLetterReason,
    /// Human-readable explanation.
    pub error: String,
    /// Subject the original message was published to (replay target).
    pub original_subject: String,
    pub attempts: u64,
    pub first_failure: DateTime<Utc>,
    pub last_failure: DateTime<Utc>,
    /// The original message body (JSON when it was JSON, else a string).
    pub payload: serde_json::Value,
    /// Headers of the original message.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Every failed attempt, oldest first (stages that try once have none).
    #[serde(default)]
    pub history: Vec<Attempt>,
    /// The trace the failed message belonged to, when it carried one.
    #[serde(default)]
    pub trace_id: Option<String>,
}

/// One failed attempt to process a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// JetStream delivery number of the message at this attempt.
    pub delivery: u64,
    pub error: String,
}

impl DeadLetter {
    /// A failure found on the first and only attempt.
    pub fn first_attempt(
        stage: Stage,
        reason: DeadLetterReason,
        error: String,
        original_subject: String,
        payload: serde_json::Value,
    ) -> Self {
        let now = Utc::now();
        Self {
            stage,
            reason,
            error,
            original_subject,
            attempts: 1,
            first_failure: now,
            last_failure: now,
            payload,
            headers: BTreeMap::new(),
            history: Vec::new(),
            trace_id: None,
        }
    }
}
