//! A sync task's catch-up progress, kept by the fetcher in the task's cursor record (field
//! `backfill`) so the monitor and its console can show it without scraping the fetcher.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a task's catch-up stands, as of the fetcher's last window. Written with the cursor
/// (once when a window starts, once when it closes): never more often than the cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backfill {
    /// JST local: where this catch-up began (the start of its first window).
    #[serde(with = "j2t_domain::jst_time")]
    pub from: NaiveDateTime,
    /// JST local: now minus the lag when the estimate was made (the target).
    #[serde(with = "j2t_domain::jst_time")]
    pub horizon: NaiveDateTime,
    /// JST requests still needed to reach the horizon; `None` until a first window was read
    /// (the estimate extrapolates the density of the windows read).
    pub remaining_requests: Option<u64>,
    /// Time those requests take at the rate schedule's spacing.
    pub remaining_secs: Option<u64>,
    /// Windows closed, orders read and JST requests (pages) made since `from`.
    #[serde(default)]
    pub windows: u64,
    #[serde(default)]
    pub orders: u64,
    #[serde(default)]
    pub requests: u64,
    pub updated_at: DateTime<Utc>,
}

impl Backfill {
    /// A catch-up beginning at `from`, nothing read yet.
    pub fn begin(from: NaiveDateTime, horizon: NaiveDateTime, now: DateTime<Utc>) -> Self {
        Self {
            from,
            horizon,
            remaining_requests: None,
            remaining_secs: None,
            windows: 0,
            orders: 0,
            requests: 0,
            updated_at: now,
        }
    }

    /// Caught up: the last window reached the horizon (or nothing is left to read).
    pub fn is_live(&self) -> bool {
        self.remaining_requests == Some(0)
    }

    /// Share of the catch-up's requests made so far, 0–100 (`None` before the estimate).
    pub fn percent_done(&self) -> Option<f64> {
        let remaining = self.remaining_requests?;
        let total = self.requests + remaining;
        Some(if total == 0 {
            100.0
        } else {
            self.requests as f64 * 100.0 / total as f64
        })
    }
}

/// What the console and the monitor's gauges show of a task's catch-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackfillStatus {
    #[serde(flatten)]
    pub progress: Backfill,
    /// Caught up: the console says "live".
    pub live: bool,
    /// See [`Backfill::percent_done`].
    pub percent_done: Option<f64>,
}

impl From<Backfill> for BackfillStatus {
    fn from(progress: Backfill) -> Self {
        Self {
            live: progress.is_live(),
            percent_done: progress.percent_done(),
            progress,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, j2t_domain::JST_TIME_FORMAT).expect("time")
    }

    fn progress(requests: u64, remaining: Option<u64>) -> Backfill {
        Backfill {
            requests,
            remaining_requests: remaining,
            remaining_secs: remaining.map(|r| r * 63 / 100),
            ..Backfill::begin(
                at("2026-11-01 00:00:00"),
                at("2026-11-30 23:58:00"),
                Utc::now(),
            )
        }
    }

    #[test]
    fn percent_done_counts_requests_made_against_all_needed() {
        for (requests, remaining, percent, live) in [
            (0, None, None, false),
            (0, Some(300), Some(0.0), false),
            (100, Some(300), Some(25.0), false),
            (400, Some(0), Some(100.0), true),
            (0, Some(0), Some(100.0), true),
        ] {
            let p = progress(requests, remaining);
            assert_eq!(
                p.percent_done(),
                percent,
                "{requests} done, {remaining:?} left"
            );
            assert_eq!(p.is_live(), live, "{requests} done, {remaining:?} left");
        }
    }

    #[test]
    fn the_stored_record_reads_back_and_the_status_adds_live_and_percent() {
        let p = progress(100, Some(300));
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["from"], "2026-11-01 00:00:00");
        assert_eq!(serde_json::from_value::<Backfill>(json).expect("back"), p);
        let status = serde_json::to_value(BackfillStatus::from(p)).expect("json");
        assert_eq!(status["remaining_requests"], 300);
        assert_eq!(status["percent_done"], 25.0);
        assert_eq!(status["live"], false);
    }
}
