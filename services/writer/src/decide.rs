//! What the writer does with a voucher once T+ has answered: the whole policy as one pure
//! function, table-tested without NATS or T+. `handle` only carries the [`Action`] out.

use std::time::Duration;

use j2t_config::WriterConfig;
use j2t_domain::{DeadLetterReason, WriteOutcome};
use j2t_tplus::Outcome;
use serde_json::Value;

use crate::breaker::MAX_RETRY_AFTER;

/// Where the message stands when the answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// JetStream's delivery count of this message (1 on the first delivery).
    pub delivered: i64,
    /// T+ calls made in this delivery (the quick retries included).
    pub calls: usize,
    /// This replica takes T+ to be down (its breaker is open) after this answer.
    pub tplus_down: bool,
}

/// What to do with the message.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// T+ has the voucher: record the result and ack.
    Ack {
        outcome: WriteOutcome,
        response: Value,
    },
    /// The monthly quota is used up: keep the message (in-progress ack), wait `pause`, then
    /// post again. Uses up no delivery.
    Hold { pause: Duration, reason: String },
    /// T+ is down as a whole, not failing this voucher: keep the message (in-progress acks)
    /// and post again when the breaker gives a turn. Uses up no delivery.
    AwaitTplus { reason: String },
    /// Try again later: record `attempt`, NAK with `delay`.
    Retry { delay: Duration, attempt: String },
    /// It will not succeed as it is: record `attempt`, dead-letter with `reason` and `error`.
    DeadLetter {
        reason: DeadLetterReason,
        attempt: String,
        error: String,
    },
}

/// The writer's decision for one outcome of posting a voucher.
pub fn decide(outcome: Outcome, delivery: Delivery, policy: &WriterConfig) -> Action {
    match outcome {
        Outcome::Created(response) => Action::Ack {
            outcome: WriteOutcome::Created,
            response,
        },
        Outcome::AlreadyExists(response) => Action::Ack {
            outcome: WriteOutcome::AlreadyExists,
            response,
        },
        Outcome::QuotaExhausted(reason) => Action::Hold {
            pause: quota_pause(policy),
            reason,
        },
        Outcome::Permanent(reason) => Action::DeadLetter {
            reason: DeadLetterReason::Rejected,
            attempt: reason.clone(),
            error: reason,
        },
        // The client has already refreshed the token once; later may work.
        Outcome::AuthExpired(reason) => retry_or_give_up(reason, None, delivery, policy),
        Outcome::Transient { reason, .. } if delivery.tplus_down => Action::AwaitTplus { reason },
        Outcome::Transient {
            reason,
            retry_after,
        } => retry_or_give_up(reason, retry_after, delivery, policy),
    }
}

fn retry_or_give_up(
    reason: String,
    retry_after: Option<Duration>,
    delivery: Delivery,
    policy: &WriterConfig,
) -> Action {
    let attempt = format!("{reason} ({} calls)", delivery.calls);
    if delivery.delivered >= policy.max_deliver {
        return Action::DeadLetter {
            reason: DeadLetterReason::RetriesExhausted,
            attempt,
            error: format!("{} deliveries; last error: {reason}", delivery.delivered),
        };
    }
    let backoff = nak_delay(policy, delivery.delivered);
    let delay = match retry_after {
        Some(after) if after <= MAX_RETRY_AFTER => backoff.max(after),
        _ => backoff,
    };
    Action::Retry { delay, attempt }
}

/// NAK delay for the `delivered`-th delivery: exponential from `retry_base_secs`, capped at
/// `max_retry_delay_secs`.
pub fn nak_delay(policy: &WriterConfig, delivered: i64) -> Duration {
    let exponent = (delivered.max(1) - 1).min(20) as u32;
    let secs = policy.retry_base_secs.saturating_mul(1 << exponent);
    Duration::from_secs(secs.min(policy.max_retry_delay_secs))
}

/// The pause between posts while the quota is used up: short enough that the in-progress
/// ack comes well within `ack_wait`.
fn quota_pause(policy: &WriterConfig) -> Duration {
    Duration::from_secs(policy.quota_pause_secs)
        .min(Duration::from_secs(policy.ack_wait_secs) / 2)
        .max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy() -> WriterConfig {
        WriterConfig {
            concurrency: 1,
            max_deliver: 8,
            ack_wait_secs: 60,
            quick_retries: 2,
            retry_base_secs: 2,
            max_retry_delay_secs: 30,
            quota_pause_secs: 300,
            outage_after_failures: 5,
            outage_probe_secs: 10,
        }
    }

    fn at(delivered: i64) -> Delivery {
        Delivery {
            delivered,
            calls: 3,
            tplus_down: false,
        }
    }

    /// The same, with this replica's breaker open.
    fn down(delivered: i64) -> Delivery {
        Delivery {
            tplus_down: true,
            ..at(delivered)
        }
    }

    fn awaiting(reason: &str) -> Action {
        Action::AwaitTplus {
            reason: reason.into(),
        }
    }

    fn transient(retry_after: Option<u64>) -> Outcome {
        Outcome::Transient {
            reason: "HTTP 503".into(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn retry(secs: u64, attempt: &str) -> Action {
        Action::Retry {
            delay: Duration::from_secs(secs),
            attempt: attempt.into(),
        }
    }

    #[test]
    fn decision_table() {
        let body = json!({"ID": 7});
        let cases: Vec<(Outcome, Delivery, Action)> = vec![
            (
                Outcome::Created(body.clone()),
                at(1),
                Action::Ack {
                    outcome: WriteOutcome::Created,
                    response: body.clone(),
                },
            ),
            (
                Outcome::AlreadyExists(body.clone()),
                at(8),
                Action::Ack {
                    outcome: WriteOutcome::AlreadyExists,
                    response: body.clone(),
                },
            ),
            // Quota: held, pause capped at half of ack_wait, even on the last delivery.
            (
                Outcome::QuotaExhausted("quota".into()),
                at(8),
                Action::Hold {
                    pause: Duration::from_secs(30),
                    reason: "quota".into(),
                },
            ),
            // Rejected by T+: dead-lettered on the first delivery.
            (
                Outcome::Permanent("存货编码[SKU9]不存在".into()),
                at(1),
                Action::DeadLetter {
                    reason: DeadLetterReason::Rejected,
                    attempt: "存货编码[SKU9]不存在".into(),
                    error: "存货编码[SKU9]不存在".into(),
                },
            ),
            // Transient: NAK with exponential delay, capped.
            (transient(None), at(1), retry(2, "HTTP 503 (3 calls)")),
            (transient(None), at(3), retry(8, "HTTP 503 (3 calls)")),
            (transient(None), at(7), retry(30, "HTTP 503 (3 calls)")),
            // Retry-After longer than the backoff wins; shorter does not shorten it.
            (transient(Some(20)), at(1), retry(20, "HTTP 503 (3 calls)")),
            (transient(Some(1)), at(3), retry(8, "HTTP 503 (3 calls)")),
            (
                transient(Some(600)),
                at(2),
                retry(600, "HTTP 503 (3 calls)"),
            ),
            // An absurd Retry-After is not obeyed blindly.
            (
                transient(Some(86_400)),
                at(2),
                retry(4, "HTTP 503 (3 calls)"),
            ),
            // Refused credentials after the client's refresh: retried like a transient.
            (
                Outcome::AuthExpired("HTTP 401".into()),
                at(2),
                retry(4, "HTTP 401 (3 calls)"),
            ),
            // The last delivery gives up.
            (
                transient(Some(5)),
                at(8),
                Action::DeadLetter {
                    reason: DeadLetterReason::RetriesExhausted,
                    attempt: "HTTP 503 (3 calls)".into(),
                    error: "8 deliveries; last error: HTTP 503".into(),
                },
            ),
            // T+ down as a whole: held, whatever the delivery, even past max_deliver.
            (transient(None), down(1), awaiting("HTTP 503")),
            (transient(None), down(8), awaiting("HTTP 503")),
            (transient(Some(5)), down(9), awaiting("HTTP 503")),
            // What T+ answers itself is decided as usual while the breaker is open.
            (
                Outcome::Created(body.clone()),
                down(8),
                Action::Ack {
                    outcome: WriteOutcome::Created,
                    response: body.clone(),
                },
            ),
            (
                Outcome::Permanent("存货编码[SKU9]不存在".into()),
                down(1),
                Action::DeadLetter {
                    reason: DeadLetterReason::Rejected,
                    attempt: "存货编码[SKU9]不存在".into(),
                    error: "存货编码[SKU9]不存在".into(),
                },
            ),
            (
                Outcome::AuthExpired("HTTP 401".into()),
                down(2),
                retry(4, "HTTP 401 (3 calls)"),
            ),
            (
                Outcome::AuthExpired("HTTP 401".into()),
                at(9),
                Action::DeadLetter {
                    reason: DeadLetterReason::RetriesExhausted,
                    attempt: "HTTP 401 (3 calls)".into(),
                    error: "9 deliveries; last error: HTTP 401".into(),
                },
            ),
        ];
        for (outcome, delivery, expected) in cases {
            let shown = format!("{outcome:?} at {delivery:?}");
            assert_eq!(decide(outcome, delivery, &policy()), expected, "{shown}");
        }
    }

    #[test]
    fn quota_pause_is_at_least_a_second() {
        let cfg = WriterConfig {
            quota_pause_secs: 0,
            ..policy()
        };
        assert_eq!(quota_pause(&cfg), Duration::from_secs(1));
        let cfg = WriterConfig {
            quota_pause_secs: 5,
            ..policy()
        };
        assert_eq!(quota_pause(&cfg), Duration::from_secs(5));
    }

    #[test]
    fn nak_delay_grows_and_is_capped() {
        let secs: Vec<u64> = (0..=6).map(|d| nak_delay(&policy(), d).as_secs()).collect();
        assert_eq!(secs, vec![2, 2, 4, 8, 16, 30, 30]);
    }
}
