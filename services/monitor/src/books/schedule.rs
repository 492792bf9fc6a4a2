//! When the daily reconcile runs: pure decisions over the clock and what the bucket says
//! about today's run, so they are table-tested without waiting for a day to pass.
//!
//! A run belongs to a JST day (the day it is due on) and covers the `days` days ending the
//! day before. It is due at `at` JST local time; a monitor that starts later that day runs it
//! at once. Once a day: the first monitor to claim the day's key runs it; a claim whose
//! monitor died (older than `stale_after`) is taken over. A run that could not run (JST or
//! T+ unreachable) is tried again `retry_after` later, up to `attempts` times that day.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub at: NaiveTime,
    pub zone: FixedOffset,
    pub days: u32,
    /// A claim older than this is abandoned (its monitor died) and may be taken over.
    pub stale_after: Duration,
    /// Runs per day at most, counting the first (failed runs are tried again).
    pub attempts: u32,
    pub retry_after: Duration,
}

/// A failed run is tried again this much later.
pub const RETRY_AFTER_MINUTES: i64 = 30;

/// What the bucket holds about a day's run, as far as deciding goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Claimed at `started_at`, not finished (running, or its monitor died).
    Running { started_at: DateTime<Utc> },
    /// Finished with the books compared (equal or not).
    Finished,
    /// Could not run, at `finished_at`, after `attempts` runs that day.
    Failed {
        finished_at: DateTime<Utc>,
        attempts: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do before `until`.
    Wait { until: DateTime<Utc> },
    /// Run `day`'s reconcile over `from..=to` now, after claiming it; `takeover`: the claim
    /// of a monitor that died, or a failed run, is replaced (compare-and-set), else the key
    /// is created.
    Run {
        day: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
        takeover: bool,
    },
    /// `day`'s run is over (or failed, to be tried again at `next`): go on to the digest;
    /// nothing more to do before `next`.
    Done { day: NaiveDate, next: DateTime<Utc> },
}

impl Schedule {
    pub fn new(
        at: NaiveTime,
        utc_offset_minutes: i32,
        days: u32,
        timeout: Duration,
        attempts: u32,
    ) -> Self {
        // An offset beyond ±24 h cannot be a zone (the alert texts fall back to UTC alike).
        let zone = FixedOffset::east_opt(utc_offset_minutes.saturating_mul(60))
            .unwrap_or_else(|| Utc.fix());
        Self {
            at,
            zone,
            days: days.max(1),
            stale_after: timeout + Duration::minutes(10),
            attempts: attempts.max(1),
            retry_after: Duration::minutes(RETRY_AFTER_MINUTES),
        }
    }

    /// The JST day `now` falls on.
    pub fn day(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.zone).date_naive()
    }

    /// When `day`'s run is due.
    pub fn due(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = day.and_time(self.at);
        // A fixed offset maps every local time to exactly one instant.
        self.zone
            .from_local_datetime(&local)
            .single()
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
    }

    /// The dates `day`'s run covers: `days` days ending the day before.
    pub fn range(&self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        let to = day - Duration::days(1);
        (to - Duration::days(i64::from(self.days) - 1), to)
    }

    /// What to do at `now`, given what the bucket holds for today's run.
    pub fn decide(&self, now: DateTime<Utc>, today: Option<Seen>) -> Decision {
        let day = self.day(now);
        let due = self.due(day);
        let next = self.due(day + Duration::days(1));
        if now < due {
            return Decision::Wait { until: due };
        }
        let (from, to) = self.range(day);
        match today {
            None => Decision::Run {
                day,
                from,
                to,
                takeover: false,
            },
            Some(Seen::Running { started_at }) if now - started_at >= self.stale_after => {
                Decision::Run {
                    day,
                    from,
                    to,
                    takeover: true,
                }
            }
            Some(Seen::Running { started_at }) => Decision::Wait {
                until: (started_at + self.stale_after).min(next),
            },
            Some(Seen::Finished) => Decision::Done { day, next },
            Some(Seen::Failed {
                finished_at,
                attempts,
            }) => {
                let retry = finished_at + self.retry_after;
                match (attempts < self.attempts, now >= retry) {
                    (true, true) => Decision::Run {
                        day,
                        from,
                        to,
                        takeover: true,
                    },
                    (true, false) => Decision::Done {
                        day,
                        next: retry.min(next),
                    },
                    (false, _) => Decision::Done { day, next },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    /// A UTC instant from JST local time (UTC+8).
    fn jst(s: &str) -> DateTime<Utc> {
        let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("a time");
        local.and_utc() - Duration::hours(8)
    }

    fn schedule() -> Schedule {
        Schedule::new(
            NaiveTime::from_hms_opt(6, 0, 0).expect("06:00"),
            480,
            7,
            Duration::minutes(120),
            3,
        )
    }

    #[test]
    fn the_day_and_the_due_time_are_jst_local() {
        let s = schedule();
        // 23:30 UTC is already the next morning in China.
        let now = DateTime::parse_from_rfc3339("2026-11-30T23:30:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(s.day(now), date("2026-12-01"));
        assert_eq!(s.due(date("2026-12-01")), jst("2026-12-01 06:00"));
        assert_eq!(
            s.due(date("2026-12-01")).to_rfc3339(),
            "2026-11-30T22:00:00+00:00"
        );
    }

    #[test]
    fn a_run_covers_the_last_days_ending_yesterday() {
        assert_eq!(
            schedule().range(date("2026-12-01")),
            (date("2026-11-24"), date("2026-11-30"))
        );
        let one = Schedule {
            days: 1,
            ..schedule()
        };
        assert_eq!(
            one.range(date("2026-03-01")),
            (date("2026-02-28"), date("2026-02-28"))
        );
    }

    #[test]
    fn decisions() {
        let s = schedule();
        let (from, to) = (date("2026-11-24"), date("2026-11-30"));
        let today = date("2026-12-01");
        let run = |takeover| Decision::Run {
            day: today,
            from,
            to,
            takeover,
        };
        let next = jst("2026-12-02 06:00");
        let cases = [
            // Before today's time: wait for it (yesterday's run is not caught up: today's
            // covers its days too).
            (
                "2026-12-01 05:59",
                None,
                Decision::Wait {
                    until: jst("2026-12-01 06:00"),
                },
            ),
            // At the time, nothing claimed: run.
            ("2026-12-01 06:00", None, run(false)),
            // Started later that day (a restart, a new install): run at once.
            ("2026-12-01 21:15", None, run(false)),
            // Already ran today, or another monitor did: no run, digest next.
            (
                "2026-12-01 21:15",
                Some(Seen::Finished),
                Decision::Done { day: today, next },
            ),
            // Another monitor runs it: wait until it finishes or its claim goes stale.
            (
                "2026-12-01 06:30",
                Some(Seen::Running {
                    started_at: jst("2026-12-01 06:00"),
                }),
                Decision::Wait {
                    until: jst("2026-12-01 08:10"),
                },
            ),
            // Its monitor died: after the timeout and ten minutes, take it over.
            (
                "2026-12-01 08:10",
                Some(Seen::Running {
                    started_at: jst("2026-12-01 06:00"),
                }),
                run(true),
            ),
            // A claim near midnight: the wait ends at the next run at the latest.
            (
                "2026-12-01 23:50",
                Some(Seen::Running {
                    started_at: jst("2026-12-01 23:00"),
                }),
                Decision::Wait {
                    until: jst("2026-12-02 01:10").min(next),
                },
            ),
            // Could not run: the digest goes out, and it is tried again 30 minutes later...
            (
                "2026-12-01 06:05",
                Some(Seen::Failed {
                    finished_at: jst("2026-12-01 06:01"),
                    attempts: 1,
                }),
                Decision::Done {
                    day: today,
                    next: jst("2026-12-01 06:31"),
                },
            ),
            (
                "2026-12-01 06:31",
                Some(Seen::Failed {
                    finished_at: jst("2026-12-01 06:01"),
                    attempts: 2,
                }),
                run(true),
            ),
            // ...but not more than 3 times a day.
            (
                "2026-12-01 09:00",
                Some(Seen::Failed {
                    finished_at: jst("2026-12-01 07:01"),
                    attempts: 3,
                }),
                Decision::Done { day: today, next },
            ),
            // A retry near midnight waits for the next day's run instead.
            (
                "2026-12-02 05:50",
                Some(Seen::Failed {
                    finished_at: jst("2026-12-02 05:45"),
                    attempts: 1,
                }),
                Decision::Wait {
                    until: jst("2026-12-02 06:00"),
                },
            ),
        ];
        for (now, seen, expected) in cases {
            assert_eq!(s.decide(jst(now), seen), expected, "at {now} with {seen:?}");
        }
    }

    #[test]
    fn just_after_midnight_is_the_new_day_waiting_for_its_time() {
        let s = schedule();
        // Yesterday's run finished; at 00:05 the new day's run is not due until 06:00.
        assert_eq!(
            s.decide(jst("2026-12-02 00:05"), None),
            Decision::Wait {
                until: jst("2026-12-02 06:00")
            }
        );
    }
}
