//! One delivery's posting: the call, then a few quick in-process retries of transient
//! answers (honouring a short Retry-After). What is still transient after that is left to
//! `decide` (a NAK with a longer delay).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use j2t_tplus::{Answer, Outcome, Rules, classify};

/// Longest Retry-After worth waiting for in-process; a longer one is better served by a NAK
/// than by holding the message.
pub const MAX_QUICK_WAIT: Duration = Duration::from_secs(10);

/// Calls `call` until its answer is not transient, `quick_retries` retries are used up, or
/// `observe` (shown every outcome, e.g. the breaker recording it) says to stop; returns the
/// last outcome with the number of calls made. A last transient outcome is ambiguous when
/// any of the calls was: an earlier timeout may have stored the voucher.
pub async fn post_with_quick_retries<F, Fut>(
    call: F,
    rules: &Rules,
    quick_retries: usize,
    observe: impl Fn(&Outcome) -> bool,
) -> (Outcome, usize)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Answer>,
{
    let calls = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let any_ambiguous = AtomicBool::new(false);
    let attempt = || async {
        calls.fetch_add(1, Ordering::Relaxed);
        let outcome = classify(&call().await, rules);
        if let Outcome::Transient {
            ambiguous: true, ..
        } = outcome
        {
            any_ambiguous.store(true, Ordering::Relaxed);
        }
        if !observe(&outcome) {
            stop.store(true, Ordering::Relaxed);
        }
        match outcome {
            transient @ Outcome::Transient { .. } => Err(transient),
            done => Ok(done),
        }
    };
    let outcome = attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(quick_retries)
                .with_jitter(),
        )
        .adjust(|outcome, backoff| {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            next_quick_delay(outcome, backoff)
        })
        .await
        .unwrap_or_else(|transient| transient);
    let outcome = match outcome {
        Outcome::Transient {
            reason,
            retry_after,
            ambiguous,
        } => Outcome::Transient {
            reason,
            retry_after,
            ambiguous: ambiguous || any_ambiguous.into_inner(),
        },
        settled => settled,
    };
    (outcome, calls.into_inner())
}

/// The wait before the next quick retry, given the backoff's own (`None` once the retries
/// are used up), or `None` to stop.
fn next_quick_delay(outcome: &Outcome, backoff: Option<Duration>) -> Option<Duration> {
    let backoff = backoff?;
    match outcome {
        Outcome::Transient {
            retry_after: Some(after),
            ..
        } if *after > MAX_QUICK_WAIT => None,
        Outcome::Transient {
            retry_after: Some(after),
            ..
        } => Some(backoff.max(*after)),
        _ => Some(backoff),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use j2t_tplus::ReplyRule;
    use tokio::time::Instant;

    use super::*;

    fn rules(duplicate_text: &str) -> Rules {
        Rules {
            duplicate: ReplyRule {
                code: "999".into(),
                message_contains: duplicate_text.into(),
            },
            period_closed: None,
        }
    }

    /// An HTTP answer: status, body, Retry-After seconds.
    type Reply = (u16, &'static str, Option<u64>);

    /// Posts against a scripted T+ (the last reply repeats) under paused time; returns the
    /// outcome, the calls made and the (virtual) time it took.
    async fn run(replies: Vec<Reply>, quick_retries: usize) -> (Outcome, usize, Duration) {
        let answers = replies
            .into_iter()
            .map(|(status, body, after)| Answer::Http {
                status,
                body: body.to_string(),
                retry_after: after.map(Duration::from_secs),
            });
        let script = Mutex::new(answers.collect::<Vec<_>>());
        let rules = rules("已存在");
        let call = || {
            let mut script = script.lock().expect("script lock");
            let answer = if script.len() > 1 {
                script.remove(0)
            } else {
                script[0].clone()
            };
            async move { answer }
        };
        let started = Instant::now();
        let (outcome, calls) = tokio::time::timeout(
            Duration::from_secs(3_600),
            post_with_quick_retries(call, &rules, quick_retries, |_| true),
        )
        .await
        .expect("quick retries end within an hour");
        (outcome, calls, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn success_after_transients_stops_retrying() {
        let (outcome, calls, _) = run(
            vec![(503, "", None), (502, "", None), (200, "null", None)],
            2,
        )
        .await;
        assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
        assert_eq!(calls, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn transients_stop_after_the_quick_retries() {
        let (outcome, calls, elapsed) = run(vec![(503, "", None)], 2).await;
        assert!(matches!(outcome, Outcome::Transient { .. }), "{outcome:?}");
        assert_eq!(calls, 3);
        // Two backoff waits of 0.2–5 s (jittered).
        assert!(elapsed <= Duration::from_secs(20), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_and_still_bounded() {
        // T+ keeps answering 429 with Retry-After: 3 s. The retries wait for it, and stop
        // when the quick retries are used up (they used to go on forever).
        let (outcome, calls, elapsed) = run(vec![(429, "", Some(3))], 2).await;
        assert_eq!(
            outcome,
            Outcome::Transient {
                reason: "HTTP 429: ".into(),
                retry_after: Some(Duration::from_secs(3)),
                ambiguous: false,
            }
        );
        assert_eq!(calls, 3);
        assert!(elapsed >= Duration::from_secs(6), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_retry_after_is_left_to_a_nak() {
        let (outcome, calls, elapsed) = run(vec![(503, "", Some(120))], 2).await;
        assert!(matches!(outcome, Outcome::Transient { .. }), "{outcome:?}");
        assert_eq!(calls, 1);
        assert_eq!(elapsed, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_and_duplicate_answers_are_not_retried() {
        let rejected = r#"{"code":"999","message":"存货编码[SKU9]不存在"}"#;
        let (outcome, calls, _) = run(vec![(400, rejected, None)], 2).await;
        assert!(matches!(outcome, Outcome::Permanent(_)), "{outcome:?}");
        assert_eq!(calls, 1);
        let duplicate = r#"{"code":"999","message":"外部单据号已存在"}"#;
        let (outcome, calls, _) = run(vec![(503, "", None), (400, duplicate, None)], 2).await;
        assert!(matches!(outcome, Outcome::AlreadyExists(_)), "{outcome:?}");
        assert_eq!(calls, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_ambiguous_call_makes_the_last_transient_ambiguous() {
        // 503 (maybe stored), then throttled: still unknown whether T+ has it.
        let (outcome, calls, _) = run(vec![(503, "", None), (429, "", None)], 1).await;
        assert!(
            matches!(
                outcome,
                Outcome::Transient {
                    ambiguous: true,
                    ..
                }
            ),
            "{outcome:?}"
        );
        assert_eq!(calls, 2);
        let (outcome, _, _) = run(vec![(429, "", None)], 1).await;
        assert!(
            matches!(
                outcome,
                Outcome::Transient {
                    ambiguous: false,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn observe_stops_the_quick_retries() {
        let rules = rules("");
        let call = || async {
            Answer::Http {
                status: 503,
                body: String::new(),
                retry_after: None,
            }
        };
        let seen = AtomicUsize::new(0);
        let (outcome, calls) = post_with_quick_retries(call, &rules, 5, |_| {
            // The breaker opens on the second failure.
            seen.fetch_add(1, Ordering::Relaxed) < 1
        })
        .await;
        assert!(matches!(outcome, Outcome::Transient { .. }), "{outcome:?}");
        assert_eq!(calls, 2);
    }

    #[test]
    fn next_quick_delay_table() {
        let t = |after: Option<u64>| Outcome::Transient {
            reason: String::new(),
            retry_after: after.map(Duration::from_secs),
            ambiguous: false,
        };
        let s = Duration::from_secs;
        assert_eq!(next_quick_delay(&t(None), Some(s(1))), Some(s(1)));
        assert_eq!(next_quick_delay(&t(None), None), None);
        assert_eq!(next_quick_delay(&t(Some(4)), Some(s(1))), Some(s(4)));
        assert_eq!(next_quick_delay(&t(Some(4)), None), None);
        assert_eq!(next_quick_delay(&t(Some(1)), Some(s(2))), Some(s(2)));
        assert_eq!(next_quick_delay(&t(Some(11)), Some(s(1))), None);
    }
}
