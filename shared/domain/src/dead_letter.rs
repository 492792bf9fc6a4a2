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
    pub first_failure: chrono::DateTime<chrono::Utc>,
    pub last_failure: chrono::DateTime<chrono::Utc>,
    /// The original message body (JSON when it was JSON, else a string).
    pub payload: serde_json::Value,
}
