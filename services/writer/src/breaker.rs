//! Is T+ down? A per-replica circuit breaker: a pure state machine ([`Breaker`], table- and
//! paused-time-tested) and its shared, awaitable form ([`SharedBreaker`]).
//!
//! Closed: every handler calls T+. `outage_after_failures` transient failures in a row (or one
//! transient answer with a Retry-After of at most an hour) open it: T+ is taken to be down
//! until `outage_probe_secs` later (or the Retry-After). Then exactly one handler gets the
//! probe; the others wait. Any answer that is not transient (created, already exists,
//! rejected, quota, auth) closes it and everyone resumes; a transient one opens it again.
//! Handlers that wait hold their vouchers (in-progress acks) and use up no delivery.
//!
//! Per replica: each replica probes on its own, so N replicas send N probes per interval.

use std::sync::Mutex;
use std::time::Duration;

use j2t_tplus::Outcome;
use tokio::sync::watch;
use tokio::time::Instant;

/// Longest Retry-After obeyed; beyond it the ordinary probe interval applies.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// T+ works; `failures` transient failures in a row so far.
    Closed { failures: u32 },
    /// T+ is down; nobody calls before `until`.
    Open { until: Instant },
    /// One probe call is out; the others wait for its answer, or for `deadline` in case the
    /// probe never reports (its task was cancelled).
    Probing { deadline: Instant },
}

/// May a handler call T+ now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Yes, as usual (quick retries allowed).
    Call,
    /// Yes, as the one probe: a single call, whose answer decides for everyone.
    Probe,
    /// No: wait until `until` (or until the state changes) and ask again.
    Wait { until: Instant },
}

/// What an answer says about T+ as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Up,
    Down { retry_after: Option<Duration> },
}

impl Health {
    /// Only a transient answer says T+ is (perhaps) down; any other answer came from T+
    /// itself.
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Transient { retry_after, .. } => Health::Down {
                retry_after: *retry_after,
            },
            _ => Health::Up,
        }
    }
}

/// A change of the breaker worth telling about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// T+ was working and is now taken to be down.
    Opened,
    /// T+ answered again.
    Closed,
}

#[derive(Debug, Clone)]
pub struct Breaker {
    state: State,
    open_after: u32,
    probe_every: Duration,
    probe_timeout: Duration,
}

impl Breaker {
    /// `probe_timeout`: how long a probe may take before another handler may probe (longer
    /// than one T+ call can last).
    pub fn new(open_after: u32, probe_every: Duration, probe_timeout: Duration) -> Self {
        Self {
            state: State::Closed { failures: 0 },
            open_after: open_after.max(1),
            probe_every,
            probe_timeout,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// T+ is taken to be down (open or probing).
    pub fn is_down(&self) -> bool {
        !matches!(self.state, State::Closed { .. })
    }

    /// Asks for a turn at `now`; hands out at most one probe at a time.
    pub fn turn(&mut self, now: Instant) -> Turn {
        match self.state {
            State::Closed { .. } => Turn::Call,
            State::Open { until } | State::Probing { deadline: until } if now < until => {
                Turn::Wait { until }
            }
            State::Open { .. } | State::Probing { .. } => {
                self.state = State::Probing {
                    deadline: now + self.probe_timeout,
                };
                Turn::Probe
            }
        }
    }

    /// Records one call's answer at `now`.
    pub fn on_outcome(&mut self, now: Instant, health: Health) -> Option<Change> {
        let was_down = self.is_down();
        let retry_after = |health| match health {
            Health::Down {
                retry_after: Some(after),
            } if after <= MAX_RETRY_AFTER => Some(after),
            _ => None,
        };
        self.state = match (health, self.state) {
            (Health::Up, _) => State::Closed { failures: 0 },
            (Health::Down { .. }, State::Closed { failures }) => {
                let failures = failures.saturating_add(1);
                match retry_after(health) {
                    Some(after) => State::Open { until: now + after },
                    None if failures >= self.open_after => State::Open {
                        until: now + self.probe_every,
                    },
                    None => State::Closed { failures },
                }
            }
            // The probe failed.
            (Health::Down { .. }, State::Probing { .. }) => State::Open {
                until: now + retry_after(health).unwrap_or(self.probe_every),
            },
            // A call made before the breaker opened: a Retry-After may only push the
            // reopening later.
            (Health::Down { .. }, State::Open { until }) => State::Open {
                until: retry_after(health).map_or(until, |after| until.max(now + after)),
            },
        };
        match (was_down, self.is_down()) {
            (false, true) => Some(Change::Opened),
            (true, false) => Some(Change::Closed),
            _ => None,
        }
    }
}

/// The breaker shared by one replica's handlers; waiting handlers wake on every change.
pub struct SharedBreaker {
    inner: Mutex<Breaker>,
    changes: watch::Sender<u64>,
}

impl SharedBreaker {
    pub fn new(breaker: Breaker) -> Self {
        Self {
            inner: Mutex::new(breaker),
            changes: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A panic elsewhere cannot leave the state machine half-updated: every method
        // assigns whole states.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_down(&self) -> bool {
        self.lock().is_down()
    }

    /// A turn now, or `None` after waiting for a moment when one may be free: the wait ends
    /// at the state's deadline or at the next change (a success closing the breaker).
    pub async fn turn_or_wait(&self) -> Option<Turn> {
        let mut changes = self.changes.subscribe();
        let turn = self.lock().turn(Instant::now());
        match turn {
            Turn::Wait { until } => {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    _ = changes.changed() => {}
                }
                None
            }
            turn => Some(turn),
        }
    }

    /// A turn now if there is one; `Wait` otherwise (nothing is waited for).
    pub fn turn(&self) -> Turn {
        self.lock().turn(Instant::now())
    }

    /// Records one call's answer; tells waiting handlers when something changed.
    pub fn record(&self, outcome: &Outcome) -> Option<Change> {
        self.record_health(Health::of(outcome))
    }

    /// Records what one call (a write or a lookup) said about T+.
    pub fn record_health(&self, health: Health) -> Option<Change> {
        let mut breaker = self.lock();
        let before = breaker.state();
        let change = breaker.on_outcome(Instant::now(), health);
        if breaker.state() != before {
            self.changes.send_modify(|generation| *generation += 1);
        }
        change
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const DOWN: Health = Health::Down { retry_after: None };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn breaker() -> Breaker {
        Breaker::new(3, secs(10), secs(30))
    }

    #[test]
    fn opens_after_failures_in_a_row_and_a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = breaker();
        assert_eq!(b.on_outcome(t0, DOWN), None);
        assert_eq!(b.on_outcome(t0, DOWN), None);
        assert_eq!(b.on_outcome(t0, Health::Up), None);
        assert_eq!(b.state(), State::Closed { failures: 0 });
        assert_eq!(b.on_outcome(t0, DOWN), None);
        assert_eq!(b.on_outcome(t0, DOWN), None);
        assert_eq!(b.turn(t0), Turn::Call);
        assert_eq!(b.on_outcome(t0, DOWN), Some(Change::Opened));
        assert_eq!(
            b.state(),
            State::Open {
                until: t0 + secs(10)
            }
        );
        assert!(b.is_down());
    }

    #[test]
    fn one_probe_at_a_time_then_close_or_reopen() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.on_outcome(t0, DOWN);
        }
        let until = t0 + secs(10);
        assert_eq!(b.turn(t0 + secs(9)), Turn::Wait { until });
        let t1 = t0 + secs(10);
        assert_eq!(b.turn(t1), Turn::Probe);
        // Everyone else waits for the probe.
        let deadline = t1 + secs(30);
        assert_eq!(b.turn(t1), Turn::Wait { until: deadline });
        assert_eq!(b.turn(t1 + secs(29)), Turn::Wait { until: deadline });
        // The probe fails: open for another interval.
        assert_eq!(b.on_outcome(t1 + secs(1), DOWN), None);
        assert_eq!(
            b.state(),
            State::Open {
                until: t1 + secs(11)
            }
        );
        let t2 = t1 + secs(11);
        assert_eq!(b.turn(t2), Turn::Probe);
        // The probe succeeds (a rejection is T+ answering too): closed, everyone calls.
        assert_eq!(b.on_outcome(t2, Health::Up), Some(Change::Closed));
        assert_eq!(b.turn(t2), Turn::Call);
        assert_eq!(b.turn(t2), Turn::Call);
    }

    #[test]
    fn a_lost_probe_is_replaced_after_its_deadline() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.on_outcome(t0, DOWN);
        }
        assert_eq!(b.turn(t0 + secs(10)), Turn::Probe);
        assert_eq!(b.turn(t0 + secs(40)), Turn::Probe);
    }

    #[test]
    fn retry_after_opens_at_once_for_as_long_as_asked_unless_absurd() {
        let t0 = Instant::now();
        let asked = |s| Health::Down {
            retry_after: Some(secs(s)),
        };
        let mut b = breaker();
        assert_eq!(b.on_outcome(t0, asked(25)), Some(Change::Opened));
        assert_eq!(
            b.state(),
            State::Open {
                until: t0 + secs(25)
            }
        );
        // A late answer may push the reopening later, never earlier.
        b.on_outcome(t0, asked(5));
        assert_eq!(
            b.state(),
            State::Open {
                until: t0 + secs(25)
            }
        );
        b.on_outcome(t0, asked(40));
        assert_eq!(
            b.state(),
            State::Open {
                until: t0 + secs(40)
            }
        );
        // A failed probe with Retry-After waits for it.
        assert_eq!(b.turn(t0 + secs(40)), Turn::Probe);
        b.on_outcome(t0 + secs(41), asked(3));
        assert_eq!(
            b.state(),
            State::Open {
                until: t0 + secs(44)
            }
        );
        // More than an hour is not obeyed: an ordinary failure.
        let mut b = breaker();
        assert_eq!(b.on_outcome(t0, asked(86_400)), None);
        assert_eq!(b.state(), State::Closed { failures: 1 });
    }

    #[test]
    fn health_of_outcomes() {
        let transient = Outcome::Transient {
            reason: "HTTP 503".into(),
            retry_after: Some(secs(2)),
            ambiguous: true,
        };
        assert_eq!(
            Health::of(&transient),
            Health::Down {
                retry_after: Some(secs(2))
            }
        );
        for up in [
            Outcome::Created(serde_json::Value::Null),
            Outcome::AlreadyExists(serde_json::Value::Null),
            Outcome::Permanent("x".into()),
            Outcome::PeriodClosed("x".into()),
            Outcome::QuotaExhausted("x".into()),
            Outcome::AuthExpired("x".into()),
        ] {
            assert_eq!(Health::of(&up), Health::Up, "{up:?}");
        }
    }

    /// Many handlers against a T+ that is down for 10 minutes: in paused time, one probe
    /// per interval goes out, and once T+ answers every handler resumes.
    #[tokio::test(start_paused = true)]
    async fn waiting_handlers_send_one_probe_per_interval_and_resume_together() {
        let shared = Arc::new(SharedBreaker::new(Breaker::new(1, secs(10), secs(30))));
        let started = Instant::now();
        let back_at = started + secs(600);
        let calls = Arc::new(AtomicUsize::new(0));
        let handlers: Vec<_> = (0..20)
            .map(|_| {
                let (shared, calls) = (shared.clone(), calls.clone());
                tokio::spawn(async move {
                    loop {
                        let Some(_turn) = shared.turn_or_wait().await else {
                            continue;
                        };
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(secs(1)).await;
                        let outcome = if Instant::now() >= back_at {
                            Outcome::Created(serde_json::Value::Null)
                        } else {
                            Outcome::Transient {
                                reason: "HTTP 503".into(),
                                retry_after: None,
                                ambiguous: true,
                            }
                        };
                        let up = !matches!(outcome, Outcome::Transient { .. });
                        shared.record(&outcome);
                        if up {
                            return Instant::now();
                        }
                    }
                })
            })
            .collect();
        let mut done = Vec::new();
        for handler in handlers {
            done.push(handler.await.expect("handler"));
        }
        let calls = calls.load(Ordering::SeqCst);
        // 20 calls when it started, then about one probe per 11 s (10 s open + 1 s call)
        // for 600 s, then 20 calls when it came back.
        assert!(calls <= 20 + 600 / 11 + 1 + 20, "{calls} calls");
        assert!(calls >= 20 + 600 / 11 - 1, "{calls} calls");
        let last = done.iter().max().expect("handlers");
        assert!(*last <= back_at + secs(13), "{:?}", *last - started);
    }
}
