//! When to notify: the dedup / rate-limit / resolve state machine of one receiver. Pure: it
//! is fed each round's firing conditions and each send's outcome, and answers with the
//! notifications due now.
//!
//! - An alert is announced when it starts firing; while it keeps firing it is repeated at
//!   most every `renotify` (a DLQ growing by 50 letters is still one alert).
//! - When an announced alert stops firing, one "resolved" follows; one never announced
//!   (its send failed, then it cleared) just disappears — there is nothing to take back.
//! - A failed send is tried again on a later round, no sooner than `retry_after`, so a
//!   receiver that was down briefly still hears about the alert.
//! - At most `max_per_window` sends per `window`, whatever the alerts do, so a flapping
//!   pipeline cannot flood a chat group (the DingTalk and WeCom robots themselves accept
//!   only 20 messages a minute). What the cap holds back stays due for a later round.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use j2t_config::MonitorConfig;

use super::rules::Condition;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub status: Status,
    /// The latest facts (for a resolved alert: the last seen while it fired).
    pub condition: Condition,
    /// When this alert started firing.
    pub since: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `None`: a firing alert is announced once and never repeated.
    pub renotify: Option<Duration>,
    pub retry_after: Duration,
    pub max_per_window: usize,
    pub window: Duration,
}

/// At most this many messages per receiver per minute: the DingTalk and WeCom robots accept
/// 20 a minute and drop the rest.
const MAX_PER_MINUTE: usize = 20;
/// A failed delivery (already retried in place by the sender) is tried again this much later.
const RETRY_AFTER_SECS: i64 = 60;

impl Policy {
    /// `monitor.renotify_secs`; 0 means "never repeat" (repeating every round would be spam).
    pub fn from_config(cfg: &MonitorConfig) -> Self {
        let renotify = i64::try_from(cfg.renotify_secs).unwrap_or(i64::MAX / 1000);
        Self {
            renotify: (renotify > 0).then(|| Duration::seconds(renotify)),
            retry_after: Duration::seconds(RETRY_AFTER_SECS),
            max_per_window: MAX_PER_MINUTE,
            window: Duration::minutes(1),
        }
    }
}

/// What a round asks for: the notifications to send now, and how many due ones the cap
/// held back.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub notifications: Vec<Notification>,
    pub held_back: usize,
}

#[derive(Debug, Clone)]
struct Tracked {
    condition: Condition,
    since: DateTime<Utc>,
    firing: bool,
    /// Last time a "firing" message for it was delivered.
    announced_at: Option<DateTime<Utc>>,
    /// Last failed delivery (spaces the retries).
    failed_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct Tracker {
    policy: Policy,
    /// Alerts firing, or resolved but not yet told so; keyed by `Condition::key`.
    alerts: BTreeMap<String, Tracked>,
    /// Times of the sends inside the current cap window.
    sends: VecDeque<DateTime<Utc>>,
}

impl Tracker {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            alerts: BTreeMap::new(),
            sends: VecDeque::new(),
        }
    }

    /// Folds in the conditions firing at `now` and returns what to send.
    pub fn observe(&mut self, now: DateTime<Utc>, firing: &[Condition]) -> Plan {
        let current: BTreeSet<String> = firing.iter().map(Condition::key).collect();
        for condition in firing {
            self.alerts
                .entry(condition.key())
                .and_modify(|t| {
                    // Back before its "resolved" went out: the receiver still believes it
                    // fires, so this is the same episode and nothing new to say.
                    t.firing = true;
                    t.condition = condition.clone();
                })
                .or_insert_with(|| Tracked {
                    condition: condition.clone(),
                    since: now,
                    firing: true,
                    announced_at: None,
                    failed_at: None,
                });
        }
        self.alerts.retain(|key, t| {
            if !current.contains(key) {
                t.firing = false;
            }
            t.firing || t.announced_at.is_some()
        });

        let mut due: Vec<(u8, Notification)> = self
            .alerts
            .values()
            .filter(|t| {
                t.failed_at
                    .is_none_or(|f| now - f >= self.policy.retry_after)
            })
            .filter_map(|t| {
                let rank = match (t.firing, t.announced_at) {
                    (true, None) => 0,
                    (false, _) => 1,
                    (true, Some(a)) if self.policy.renotify.is_some_and(|r| now - a >= r) => 2,
                    (true, Some(_)) => return None,
                };
                let status = if t.firing {
                    Status::Firing
                } else {
                    Status::Resolved
                };
                Some((
                    rank,
                    Notification {
                        status,
                        condition: t.condition.clone(),
                        since: t.since,
                        at: now,
                    },
                ))
            })
            .collect();
        // News first (a new alert, then a resolution), repeats last, if the cap must choose.
        due.sort_by_key(|(rank, _)| *rank);

        while self
            .sends
            .front()
            .is_some_and(|s| now - *s >= self.policy.window)
        {
            self.sends.pop_front();
        }
        let budget = self.policy.max_per_window.saturating_sub(self.sends.len());
        let held_back = due.len().saturating_sub(budget);
        let notifications: Vec<Notification> =
            due.into_iter().take(budget).map(|(_, n)| n).collect();
        self.sends.extend(notifications.iter().map(|_| now));
        Plan {
            notifications,
            held_back,
        }
    }

    /// The receiver accepted `note`.
    pub fn delivered(&mut self, note: &Notification) {
        let key = note.condition.key();
        match note.status {
            Status::Firing => {
                if let Some(t) = self.alerts.get_mut(&key) {
                    t.announced_at = Some(note.at);
                    t.failed_at = None;
                }
            }
            Status::Resolved => {
                if self.alerts.get(&key).is_some_and(|t| !t.firing) {
                    self.alerts.remove(&key);
                }
            }
        }
    }

    /// `note` could not be delivered; it stays due, to be tried after `retry_after`.
    pub fn failed(&mut self, note: &Notification) {
        if let Some(t) = self.alerts.get_mut(&note.condition.key()) {
            t.failed_at = Some(note.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid time")
    }

    fn policy() -> Policy {
        Policy {
            renotify: Some(Duration::hours(1)),
            retry_after: Duration::minutes(1),
            max_per_window: 20,
            window: Duration::minutes(1),
        }
    }

    fn dlq(total: u64) -> Condition {
        Condition::DeadLetters {
            total,
            by_reason: [("writer.rejected".to_string(), total)].into(),
        }
    }

    fn lag(task: &str) -> Condition {
        Condition::CursorLag {
            task: task.into(),
            lag_secs: 7200,
            next_start: String::new(),
        }
    }

    /// One round where every send succeeds; returns (status, key) of what was sent.
    fn round(tracker: &mut Tracker, now: DateTime<Utc>, firing: &[Condition]) -> Vec<String> {
        let plan = tracker.observe(now, firing);
        plan.notifications
            .iter()
            .map(|n| {
                tracker.delivered(n);
                format!("{} {}", n.status.as_str(), n.condition.key())
            })
            .collect()
    }

    #[test]
    fn a_growing_dlq_is_announced_once_then_resolved_once() {
        let mut tracker = Tracker::new(policy());
        assert_eq!(
            round(&mut tracker, t(0), &[dlq(1)]),
            ["firing dead_letters"]
        );
        for (i, n) in (2..=50).enumerate() {
            let now = t(15 * (i as i64 + 1));
            assert!(round(&mut tracker, now, &[dlq(n)]).is_empty());
        }
        assert_eq!(round(&mut tracker, t(900), &[]), ["resolved dead_letters"]);
        assert!(round(&mut tracker, t(915), &[]).is_empty());
    }

    #[test]
    fn the_resolved_message_carries_the_last_facts_and_the_start() {
        let mut tracker = Tracker::new(policy());
        round(&mut tracker, t(0), &[dlq(1)]);
        round(&mut tracker, t(15), &[dlq(50)]);
        let plan = tracker.observe(t(30), &[]);
        assert_eq!(
            plan.notifications,
            [Notification {
                status: Status::Resolved,
                condition: dlq(50),
                since: t(0),
                at: t(30),
            }]
        );
    }

    #[test]
    fn a_long_firing_alert_is_repeated_every_renotify_period() {
        let mut tracker = Tracker::new(policy());
        assert_eq!(round(&mut tracker, t(0), &[dlq(1)]).len(), 1);
        assert!(round(&mut tracker, t(3599), &[dlq(1)]).is_empty());
        assert_eq!(
            round(&mut tracker, t(3600), &[dlq(2)]),
            ["firing dead_letters"]
        );
        assert!(round(&mut tracker, t(3615), &[dlq(2)]).is_empty());
    }

    #[test]
    fn renotify_zero_means_announce_once() {
        let mut cfg = j2t_config::Config::load_with_env(None, Some(Default::default()))
            .expect("defaults load")
            .monitor;
        cfg.renotify_secs = 0;
        let mut tracker = Tracker::new(Policy::from_config(&cfg));
        assert_eq!(round(&mut tracker, t(0), &[dlq(1)]).len(), 1);
        assert!(round(&mut tracker, t(1), &[dlq(1)]).is_empty());
        assert!(round(&mut tracker, t(1_000_000), &[dlq(1)]).is_empty());
        assert_eq!(
            round(&mut tracker, t(1_000_001), &[]),
            ["resolved dead_letters"]
        );
    }

    #[test]
    fn alerts_are_tracked_by_key() {
        let mut tracker = Tracker::new(policy());
        assert_eq!(
            round(&mut tracker, t(0), &[lag("a"), lag("b")]),
            ["firing cursor_lag.a", "firing cursor_lag.b"]
        );
        assert_eq!(
            round(&mut tracker, t(15), &[lag("b")]),
            ["resolved cursor_lag.a"]
        );
    }

    #[test]
    fn a_failed_send_is_retried_later_and_never_resolved_if_never_told() {
        let mut tracker = Tracker::new(policy());
        let plan = tracker.observe(t(0), &[dlq(1)]);
        tracker.failed(&plan.notifications[0]);
        // Too soon to retry.
        assert!(round(&mut tracker, t(15), &[dlq(1)]).is_empty());
        assert_eq!(
            round(&mut tracker, t(60), &[dlq(1)]),
            ["firing dead_letters"]
        );

        // Another alert whose first send fails and which clears before the retry: silence.
        let plan = tracker.observe(t(100), &[dlq(1), lag("a")]);
        assert_eq!(plan.notifications.len(), 1);
        tracker.failed(&plan.notifications[0]);
        assert!(round(&mut tracker, t(115), &[dlq(1)]).is_empty());
        assert!(round(&mut tracker, t(400), &[dlq(1)]).is_empty());
    }

    #[test]
    fn a_failed_resolved_message_is_retried() {
        let mut tracker = Tracker::new(policy());
        round(&mut tracker, t(0), &[dlq(1)]);
        let plan = tracker.observe(t(15), &[]);
        tracker.failed(&plan.notifications[0]);
        assert!(round(&mut tracker, t(30), &[]).is_empty());
        assert_eq!(round(&mut tracker, t(75), &[]), ["resolved dead_letters"]);
        assert!(round(&mut tracker, t(90), &[]).is_empty());
    }

    #[test]
    fn firing_again_before_the_resolved_went_out_is_the_same_episode() {
        let mut tracker = Tracker::new(policy());
        round(&mut tracker, t(0), &[dlq(1)]);
        let plan = tracker.observe(t(15), &[]);
        tracker.failed(&plan.notifications[0]);
        // Fires again: the receiver never heard it stopped, so nothing to say.
        assert!(round(&mut tracker, t(90), &[dlq(3)]).is_empty());
        assert!(round(&mut tracker, t(105), &[dlq(3)]).is_empty());
    }

    #[test]
    fn a_flapping_alert_is_capped_per_window() {
        let mut tracker = Tracker::new(Policy {
            max_per_window: 3,
            ..policy()
        });
        let mut sent = 0;
        let mut held = 0;
        // Flaps every second for a minute: 60 transitions.
        for s in 0..60 {
            let firing = if s % 2 == 0 { vec![dlq(1)] } else { vec![] };
            let plan = tracker.observe(t(s), &firing);
            held += plan.held_back;
            for n in &plan.notifications {
                tracker.delivered(n);
                sent += 1;
            }
        }
        assert_eq!(sent, 3);
        assert!(held > 0);
        // A new window: sends resume; it last said "firing", so now it says "resolved".
        assert_eq!(round(&mut tracker, t(61), &[]), ["resolved dead_letters"]);
    }

    #[test]
    fn the_cap_sends_news_before_repeats_and_keeps_the_rest_due() {
        let mut tracker = Tracker::new(Policy {
            max_per_window: 1,
            ..policy()
        });
        round(&mut tracker, t(0), &[lag("a")]);
        // An hour on: a repeat of `a` is due and `b` is new; only one may go.
        let plan = tracker.observe(t(3600), &[lag("a"), lag("b")]);
        assert_eq!(plan.held_back, 1);
        assert_eq!(plan.notifications[0].condition.key(), "cursor_lag.b");
        tracker.delivered(&plan.notifications[0]);
        assert_eq!(
            round(&mut tracker, t(3660), &[lag("a"), lag("b")]),
            ["firing cursor_lag.a"]
        );
    }
}
