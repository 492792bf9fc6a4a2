//! What the writer does with a voucher once T+ has answered: the whole policy as one pure
//! function, table-tested without NATS or T+. `handle` only carries the [`Action`] out.
//!
//! After an ambiguous failure (the call may have been stored: timeout, connection error,
//! 5xx) or a rejection no rule recognises (perhaps a duplicate reply in an unknown shape),
//! `decide` first asks for a lookup of the ExternalCode in T+ ([`Action::LookUp`]); `handle`
//! looks it up and asks again with what it found ([`Lookup`]). While T+ is down an ambiguous
//! failure is held instead, and the voucher posted again when T+ answers.

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
    /// This replica takes T+ to be down (its breaker is open) after this answer, or after
    /// the lookup that followed it.
    pub tplus_down: bool,
}

/// What looking the voucher's ExternalCode up in T+ found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Not looked up (yet).
    NotDone,
    /// T+ has the voucher: the row found (its id, code, ExternalCode).
    Found(Value),
    /// T+ does not have it.
    Missing,
    /// The lookup failed as a write may (timeout, 5xx, throttling, refused credentials):
    /// counts like a transient write failure.
    Transient(String),
    /// The monthly quota is used up.
    QuotaExhausted(String),
    /// T+ cannot tell: it refused the lookup with a business error or answered in a shape
    /// the client cannot read.
    Failed(String),
}

/// What to do with the message.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// T+ has the voucher: record the result and ack.
    Ack {
        outcome: WriteOutcome,
        response: Value,
    },
    /// Whether T+ has the voucher is unknown: look its ExternalCode up (obeying the same
    /// breaker turn and permit as a write), then decide again with the [`Lookup`].
    LookUp,
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

/// The writer's decision for one outcome of posting a voucher and, when the outcome left
/// it open whether T+ has the voucher, what the lookup found.
pub fn decide(
    outcome: Outcome,
    lookup: Lookup,
    delivery: Delivery,
    policy: &WriterConfig,
) -> Action {
    match outcome {
        Outcome::Created(response) => Action::Ack {
            outcome: WriteOutcome::Created,
            response,
        },
        Outcome::AlreadyExists(response) => Action::Ack {
            outcome: WriteOutcome::AlreadyExists,
            response,
        },
        Outcome::QuotaExhausted(reason) => hold(reason, policy),
        Outcome::PeriodClosed(reason) => Action::DeadLetter {
            reason: DeadLetterReason::PeriodClosed,
            attempt: reason.clone(),
            error: reason,
        },
        // The client has already refreshed the token once; later may work.
        Outcome::AuthExpired(reason) => retry_or_give_up(reason, None, delivery, policy),
        // T+ said it did not take the call (throttling, busy): nothing to look up.
        Outcome::Transient {
            reason,
            retry_after,
            ambiguous: false,
        } => transient(reason, retry_after, delivery, policy),
        // The call may have been stored. While T+ is down the voucher is held and posted
        // again on a turn (harmless: T+ refuses a second ExternalCode, and a refusal no rule
        // recognises is looked up then); a lookup now would only be one more call into the
        // outage.
        Outcome::Transient {
            reason,
            retry_after,
            ambiguous: true,
        } => match lookup {
            Lookup::NotDone if delivery.tplus_down => Action::AwaitTplus { reason },
            Lookup::NotDone => Action::LookUp,
            Lookup::Found(row) => confirmed(row),
            Lookup::QuotaExhausted(why) => hold(why, policy),
            Lookup::Missing | Lookup::Failed(_) => transient(reason, retry_after, delivery, policy),
            Lookup::Transient(why) => transient(
                format!("{reason}; lookup: {why}"),
                retry_after,
                delivery,
                policy,
            ),
        },
        // Maybe data T+ will not take, maybe a duplicate in a shape no rule knows.
        Outcome::Permanent(reason) => match lookup {
            Lookup::NotDone => Action::LookUp,
            Lookup::Found(row) => confirmed(row),
            Lookup::QuotaExhausted(why) => hold(why, policy),
            // Not in T+: a real rejection.
            Lookup::Missing => Action::DeadLetter {
                reason: DeadLetterReason::Rejected,
                attempt: reason.clone(),
                error: reason,
            },
            // The lookup cannot work (refused, unreadable): the rejection stands, saying it
            // was not confirmed absent.
            Lookup::Failed(why) => {
                let error = format!("{reason} (lookup failed: {why})");
                Action::DeadLetter {
                    reason: DeadLetterReason::Rejected,
                    attempt: error.clone(),
                    error,
                }
            }
            // Unknown whether T+ has it: ask again later.
            Lookup::Transient(why) => {
                transient(format!("{reason}; lookup: {why}"), None, delivery, policy)
            }
        },
    }
}

/// Found by the lookup: an earlier attempt was stored.
fn confirmed(row: Value) -> Action {
    Action::Ack {
        outcome: WriteOutcome::Confirmed,
        response: row,
    }
}

fn hold(reason: String, policy: &WriterConfig) -> Action {
    Action::Hold {
        pause: quota_pause(policy),
        reason,
    }
}

/// A transient failure: held while T+ is down as a whole, else retried later.
fn transient(
    reason: String,
    retry_after: Option<Duration>,
    delivery: Delivery,
    policy: &WriterConfig,
) -> Action {
    if delivery.tplus_down {
        Action::AwaitTplus { reason }
    } else {
        retry_or_give_up(reason, retry_after, delivery, policy)
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
            audit: false,
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

    /// An ambiguous failure (the call may have been stored).
    fn transient(retry_after: Option<u64>) -> Outcome {
        Outcome::Transient {
            reason: "HTTP 503".into(),
            retry_after: retry_after.map(Duration::from_secs),
            ambiguous: true,
        }
    }

    /// A transient failure that says T+ did not take the call.
    fn throttled() -> Outcome {
        Outcome::Transient {
            reason: "HTTP 409".into(),
            retry_after: None,
            ambiguous: false,
        }
    }

    fn unrecognised() -> Outcome {
        Outcome::Permanent("HTTP 422: taken".into())
    }

    fn confirmed(id: &str) -> Action {
        Action::Ack {
            outcome: WriteOutcome::Confirmed,
            response: json!({"id": id}),
        }
    }

    fn found(id: &str) -> Lookup {
        Lookup::Found(json!({"id": id}))
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
        let cases: Vec<(Outcome, Lookup, Delivery, Action)> = vec![
            (
                Outcome::Created(body.clone()),
                Lookup::NotDone,
                at(1),
                Action::Ack {
                    outcome: WriteOutcome::Created,
                    response: body.clone(),
                },
            ),
            (
                Outcome::AlreadyExists(body.clone()),
                Lookup::NotDone,
                at(8),
                Action::Ack {
                    outcome: WriteOutcome::AlreadyExists,
                    response: body.clone(),
                },
            ),
            // Quota: held, pause capped at half of ack_wait, even on the last delivery.
            (
                Outcome::QuotaExhausted("quota".into()),
                Lookup::NotDone,
                at(8),
                Action::Hold {
                    pause: Duration::from_secs(30),
                    reason: "quota".into(),
                },
            ),
            // Rejected by T+: dead-lettered on the first delivery.
            (
                Outcome::Permanent("存货编码[SKU9]不存在".into()),
                Lookup::Missing,
                at(1),
                Action::DeadLetter {
                    reason: DeadLetterReason::Rejected,
                    attempt: "存货编码[SKU9]不存在".into(),
                    error: "存货编码[SKU9]不存在".into(),
                },
            ),
            // Transient: NAK with exponential delay, capped.
            (
                transient(None),
                Lookup::Missing,
                at(1),
                retry(2, "HTTP 503 (3 calls)"),
            ),
            (
                transient(None),
                Lookup::Missing,
                at(3),
                retry(8, "HTTP 503 (3 calls)"),
            ),
            (
                transient(None),
                Lookup::Missing,
                at(7),
                retry(30, "HTTP 503 (3 calls)"),
            ),
            // Retry-After longer than the backoff wins; shorter does not shorten it.
            (
                transient(Some(20)),
                Lookup::Missing,
                at(1),
                retry(20, "HTTP 503 (3 calls)"),
            ),
            (
                transient(Some(1)),
                Lookup::Missing,
                at(3),
                retry(8, "HTTP 503 (3 calls)"),
            ),
            (
                transient(Some(600)),
                Lookup::Missing,
                at(2),
                retry(600, "HTTP 503 (3 calls)"),
            ),
            // An absurd Retry-After is not obeyed blindly.
            (
                transient(Some(86_400)),
                Lookup::Missing,
                at(2),
                retry(4, "HTTP 503 (3 calls)"),
            ),
            // Refused credentials after the client's refresh: retried like a transient.
            (
                Outcome::AuthExpired("HTTP 401".into()),
                Lookup::NotDone,
                at(2),
                retry(4, "HTTP 401 (3 calls)"),
            ),
            // The last delivery gives up.
            (
                transient(Some(5)),
                Lookup::Missing,
                at(8),
                Action::DeadLetter {
                    reason: DeadLetterReason::RetriesExhausted,
                    attempt: "HTTP 503 (3 calls)".into(),
                    error: "8 deliveries; last error: HTTP 503".into(),
                },
            ),
            // T+ down as a whole: held, whatever the delivery, even past max_deliver.
            (
                transient(None),
                Lookup::Missing,
                down(1),
                awaiting("HTTP 503"),
            ),
            (
                transient(None),
                Lookup::Missing,
                down(8),
                awaiting("HTTP 503"),
            ),
            (
                transient(Some(5)),
                Lookup::Missing,
                down(9),
                awaiting("HTTP 503"),
            ),
            // What T+ answers itself is decided as usual while the breaker is open.
            (
                Outcome::Created(body.clone()),
                Lookup::NotDone,
                down(8),
                Action::Ack {
                    outcome: WriteOutcome::Created,
                    response: body.clone(),
                },
            ),
            (
                Outcome::Permanent("存货编码[SKU9]不存在".into()),
                Lookup::Missing,
                down(1),
                Action::DeadLetter {
                    reason: DeadLetterReason::Rejected,
                    attempt: "存货编码[SKU9]不存在".into(),
                    error: "存货编码[SKU9]不存在".into(),
                },
            ),
            (
                Outcome::AuthExpired("HTTP 401".into()),
                Lookup::NotDone,
                down(2),
                retry(4, "HTTP 401 (3 calls)"),
            ),
            (
                Outcome::AuthExpired("HTTP 401".into()),
                Lookup::NotDone,
                at(9),
                Action::DeadLetter {
                    reason: DeadLetterReason::RetriesExhausted,
                    attempt: "HTTP 401 (3 calls)".into(),
                    error: "9 deliveries; last error: HTTP 401".into(),
                },
            ),
            // Uncertain outcomes are looked up first: an ambiguous failure, whatever the
            // delivery, and an unrecognised rejection.
            (transient(None), Lookup::NotDone, at(1), Action::LookUp),
            (transient(Some(5)), Lookup::NotDone, at(8), Action::LookUp),
            // …except while T+ is down: held, posted again on a turn, looked up then if
            // its answer is still uncertain.
            (
                transient(None),
                Lookup::NotDone,
                down(9),
                awaiting("HTTP 503"),
            ),
            (unrecognised(), Lookup::NotDone, at(1), Action::LookUp),
            (unrecognised(), Lookup::NotDone, down(1), Action::LookUp),
            // Found means written.
            (transient(None), found("v1"), at(1), confirmed("v1")),
            (transient(None), found("v1"), at(8), confirmed("v1")),
            (transient(None), found("v1"), down(3), confirmed("v1")),
            (unrecognised(), found("v2"), at(1), confirmed("v2")),
            // The duplicate rule stays the fast path; settled answers are never looked up.
            (
                Outcome::AlreadyExists(body.clone()),
                Lookup::NotDone,
                at(1),
                Action::Ack {
                    outcome: WriteOutcome::AlreadyExists,
                    response: body.clone(),
                },
            ),
            (
                throttled(),
                Lookup::NotDone,
                at(1),
                retry(2, "HTTP 409 (3 calls)"),
            ),
            (throttled(), Lookup::NotDone, down(1), awaiting("HTTP 409")),
            // A recognised closed period: its own reason, at once, no lookup.
            (
                Outcome::PeriodClosed("会计期间已结账".into()),
                Lookup::NotDone,
                at(1),
                Action::DeadLetter {
                    reason: DeadLetterReason::PeriodClosed,
                    attempt: "会计期间已结账".into(),
                    error: "会计期间已结账".into(),
                },
            ),
            // Missing after an unrecognised rejection: rejected.
            (
                unrecognised(),
                Lookup::Missing,
                at(1),
                Action::DeadLetter {
                    reason: DeadLetterReason::Rejected,
                    attempt: "HTTP 422: taken".into(),
                    error: "HTTP 422: taken".into(),
                },
            ),
            // A lookup that cannot work leaves the rejection standing, saying so.
            (
                unrecognised(),
                Lookup::Failed("code 403: no right".into()),
                at(1),
                Action::DeadLetter {
                    reason: DeadLetterReason::Rejected,
                    attempt: "HTTP 422: taken (lookup failed: code 403: no right)".into(),
                    error: "HTTP 422: taken (lookup failed: code 403: no right)".into(),
                },
            ),
            // …and the ambiguous failure is retried as before.
            (
                transient(None),
                Lookup::Failed("unreadable".into()),
                at(1),
                retry(2, "HTTP 503 (3 calls)"),
            ),
            // A lookup failing transiently counts like a transient write failure.
            (
                unrecognised(),
                Lookup::Transient("timeout".into()),
                at(2),
                retry(4, "HTTP 422: taken; lookup: timeout (3 calls)"),
            ),
            (
                unrecognised(),
                Lookup::Transient("timeout".into()),
                down(2),
                awaiting("HTTP 422: taken; lookup: timeout"),
            ),
            (
                unrecognised(),
                Lookup::Transient("timeout".into()),
                at(8),
                Action::DeadLetter {
                    reason: DeadLetterReason::RetriesExhausted,
                    attempt: "HTTP 422: taken; lookup: timeout (3 calls)".into(),
                    error: "8 deliveries; last error: HTTP 422: taken; lookup: timeout".into(),
                },
            ),
            (
                transient(Some(20)),
                Lookup::Transient("HTTP 502".into()),
                at(1),
                retry(20, "HTTP 503; lookup: HTTP 502 (3 calls)"),
            ),
            (
                transient(None),
                Lookup::Transient("HTTP 502".into()),
                down(4),
                awaiting("HTTP 503; lookup: HTTP 502"),
            ),
            // A lookup out of quota holds the voucher like a write would.
            (
                unrecognised(),
                Lookup::QuotaExhausted("quota".into()),
                at(8),
                Action::Hold {
                    pause: Duration::from_secs(30),
                    reason: "quota".into(),
                },
            ),
            (
                transient(None),
                Lookup::QuotaExhausted("quota".into()),
                at(1),
                Action::Hold {
                    pause: Duration::from_secs(30),
                    reason: "quota".into(),
                },
            ),
        ];
        for (outcome, lookup, delivery, expected) in cases {
            let shown = format!("{outcome:?} with {lookup:?} at {delivery:?}");
            assert_eq!(
                decide(outcome, lookup, delivery, &policy()),
                expected,
                "{shown}"
            );
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
