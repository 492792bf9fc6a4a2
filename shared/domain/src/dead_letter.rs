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
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Fetcher => "fetcher",
            Stage::Transformer => "transformer",
            Stage::Writer => "writer",
        }
    }
}

/// A message a stage could not process, kept with everything needed to understand and
/// replay it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub stage: Stage,
    /// Short machine-readable reason (a subject token), e.g. `rejected`, `bad_order`.
    pub reason: String,
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
        reason: &str,
        error: String,
        original_subject: String,
        payload: serde_json::Value,
    ) -> Self {
        let now = Utc::now();
        Self {
            stage,
            reason: reason.to_string(),
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
