//! Fault knobs of the simulated T+, set through the admin API (all off by default). The
//! seeded RNG that decides when they fire lives in [`super::TplusState`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a timeout-after-commit answer is held back when `timeout_after_commit_ms` is 0:
/// longer than any sane client timeout, so the client gives up first.
pub const DEFAULT_TIMEOUT_AFTER_COMMIT_MS: u64 = 30_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TplusFaults {
    /// Fraction of Create calls answered HTTP 503 (plain-text body), nothing stored; reads
    /// (FindVoucherList, GetVoucherDTO, Audit, the `Query` services) too, drawn from their own
    /// RNG.
    pub http_5xx_probability: f64,
    /// A maintenance window: every Create and read call answers HTTP 503 (before any other
    /// check), nothing stored. Turn it on and off through the admin API to make an outage window.
    pub outage: bool,
    /// Sent as `Retry-After` (whole seconds) on every 503 (injected or outage) and 429.
    pub retry_after_secs: Option<u64>,
    /// Fraction of Create calls answered HTTP 200 with an HTML maintenance page (what a
    /// proxy in front of T+ shows), nothing stored. Counted as `html200` in the stats.
    pub html_200_probability: f64,
    /// Fraction of Create and read calls answered HTTP 409
    /// `{"error":"请求过于频繁，请稍后再试"}` (protective throttling), nothing stored.
    pub throttle_409_probability: f64,
    /// Fraction of Create calls that store the voucher and then answer only after
    /// `timeout_after_commit_ms` (the client gives up first: the voucher exists but the
    /// client saw a timeout).
    pub timeout_after_commit_probability: f64,
    /// 0 means [`DEFAULT_TIMEOUT_AFTER_COMMIT_MS`].
    pub timeout_after_commit_ms: u64,
    /// Added latency per T+ call (Create, reads and refreshToken), in milliseconds.
    pub latency_ms: u64,
    /// Every business call (Create and reads) answers HTTP 401 `{"code":"50112","message":"调用次数已用完"}`
    /// (monthly quota exhausted). The token endpoint still works.
    pub quota_exhausted: bool,
    /// openTokens expire this long after issue (None = never).
    pub token_ttl_secs: Option<u64>,
    /// The convention for taking back what was shipped (T+'s rule is not public):
    /// `false` (default) = quantities must be positive and a return is an other-outbound
    /// voucher with `BusiType` 14 (counted as a return: negative in sums); `true` = a red
    /// other-outbound voucher with negative quantities is accepted and `BusiType` 14 is refused.
    pub negative_quantities: bool,
    /// Seed of the fault RNG (same seed, same fault sequence for the same request sequence).
    pub seed: u64,
}

impl TplusFaults {
    /// Rejects probabilities outside 0..=1 (NaN included).
    pub fn validate(&self) -> Result<(), String> {
        crate::random::check_probabilities(&[
            ("http_5xx_probability", self.http_5xx_probability),
            ("html_200_probability", self.html_200_probability),
            ("throttle_409_probability", self.throttle_409_probability),
            (
                "timeout_after_commit_probability",
                self.timeout_after_commit_probability,
            ),
        ])
    }

    /// How long a timeout-after-commit answer is held back.
    pub fn commit_delay(&self) -> Duration {
        Duration::from_millis(match self.timeout_after_commit_ms {
            0 => DEFAULT_TIMEOUT_AFTER_COMMIT_MS,
            ms => ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected_and_missing_ones_default() {
        let parsed: TplusFaults =
            serde_json::from_str(r#"{"latency_ms": 5, "quota_exhausted": true}"#).expect("parses");
        assert_eq!(
            parsed,
            TplusFaults {
                latency_ms: 5,
                quota_exhausted: true,
                ..Default::default()
            }
        );
        assert!(serde_json::from_str::<TplusFaults>(r#"{"latency": 5}"#).is_err());
    }

    #[test]
    fn commit_delay_zero_means_the_default() {
        let mut faults = TplusFaults::default();
        assert_eq!(faults.commit_delay(), Duration::from_secs(30));
        faults.timeout_after_commit_ms = 1_500;
        assert_eq!(faults.commit_delay(), Duration::from_millis(1_500));
    }
}
