use serde::{Deserialize, Serialize};

/// A T+ voucher ready to post, with what it is made of (lineage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoucherEnvelope {
    /// T+ idempotency key; also the JetStream `Nats-Msg-Id`.
    pub external_code: String,
    /// Values of the header group keys (e.g. io_date_new, warehouse).
    pub group: Vec<String>,
    /// 1-based part number when a group was split by `body_max_line`.
    pub part: u32,
    pub parts: u32,
    /// The JST orders merged into this voucher's group, ascending.
    pub io_ids: Vec<i64>,
    /// Window the orders came from.
    pub window: String,
    /// The body posted to `otherDispatch/Create`: `{"dto": {…}}`.
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    Created,
    /// T+ already held the ExternalCode: an earlier attempt succeeded.
    AlreadyExists,
    /// After an ambiguous failure or an unrecognised rejection, the ExternalCode was found
    /// in T+ by looking it up: an earlier attempt succeeded.
    Confirmed,
}

impl WriteOutcome {
    /// The subject token and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOutcome::Created => "created",
            WriteOutcome::AlreadyExists => "already_exists",
            WriteOutcome::Confirmed => "confirmed",
        }
    }
}

/// Audit record of a voucher T+ accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteResult {
    pub external_code: String,
    pub outcome: WriteOutcome,
    pub io_ids: Vec<i64>,
    /// T+'s answer body.
    pub response: serde_json::Value,
    pub attempts: u64,
    pub written_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::WriteOutcome;

    /// The subject token, the metric label and the JSON name are one name.
    #[test]
    fn outcome_names_agree() {
        for outcome in [
            WriteOutcome::Created,
            WriteOutcome::AlreadyExists,
            WriteOutcome::Confirmed,
        ] {
            let json = serde_json::to_value(outcome).expect("serialises");
            assert_eq!(json, outcome.as_str());
        }
    }
}
