//! Fault knobs of the simulated JST, set through the admin API (all off by default), and the
//! seed of the random source that decides when they fire.

use serde::{Deserialize, Serialize};

use super::limits::{Limits, PER_MINUTE, PER_SECOND};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JstFaults {
    /// Fraction of query requests answered with code 199 although within limits (not a violation).
    pub throttle_probability: f64,
    /// Fraction of query requests answered with HTTP 502 (plain-text body).
    pub http_5xx_probability: f64,
    /// Added latency per JST request, in milliseconds.
    pub latency_ms: u64,
    /// Per query request: probability of one drift mutation applied *before* answering
    /// (a sync is many requests; data may change between any two of them).
    pub drift_probability: f64,
    /// Access tokens expire this long after they are issued (None = never).
    pub token_ttl_secs: Option<u64>,
    /// Rate limits (None = the real 5/s and 100/min).
    pub per_second: Option<u32>,
    pub per_minute: Option<u32>,
    /// Orders whose `remark` is sent as invalid UTF-8 bytes (so the whole answer is not UTF-8).
    pub bad_bytes_io_ids: Vec<i64>,
    /// Orders whose `remark` is sent with a lone surrogate escape (`\ud800`), which is not a
    /// character.
    pub lone_surrogate_io_ids: Vec<i64>,
    /// Fields left out of every successful answer that holds one of `omit_fields_io_ids`:
    /// `code` or `msg` of the envelope, or a page field (`has_next`, `data_count`, ...).
    pub omit_fields: Vec<String>,
    pub omit_fields_io_ids: Vec<i64>,
    /// Seed of the fault RNG (same seed, same fault sequence for the same request sequence).
    pub seed: u64,
}

impl JstFaults {
    /// Rejects probabilities outside 0..=1 (NaN included).
    pub fn validate(&self) -> Result<(), String> {
        crate::random::check_probabilities(&[
            ("throttle_probability", self.throttle_probability),
            ("http_5xx_probability", self.http_5xx_probability),
            ("drift_probability", self.drift_probability),
        ])
    }

    pub fn limits(&self) -> Limits {
        Limits {
            per_second: self.per_second.unwrap_or(PER_SECOND),
            per_minute: self.per_minute.unwrap_or(PER_MINUTE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected_and_missing_ones_default() {
        let parsed: JstFaults = serde_json::from_str(r#"{"latency_ms": 5}"#).expect("parses");
        assert_eq!(parsed.latency_ms, 5);
        assert_eq!(
            parsed.limits(),
            Limits {
                per_second: 5,
                per_minute: 100
            }
        );
        assert!(serde_json::from_str::<JstFaults>(r#"{"latency": 5}"#).is_err());
    }
}
