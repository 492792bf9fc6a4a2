//! A task's catch-up progress as stored in its cursor record (`j2t_stores::Backfill`): when
//! one begins, what each closed window adds, when it ends. Pure; `sync` saves the result
//! with the cursor.

use chrono::{DateTime, NaiveDateTime, Utc};
use j2t_domain::Window;
use j2t_stores::Backfill;

use crate::backfill::Estimate;

/// Before reading `window`: a window that ends short of the horizon means the task is behind,
/// so a catch-up begins here unless one is under way (a restart keeps its counts).
pub fn window_started(
    previous: Option<Backfill>,
    window: Window,
    reached_horizon: bool,
    horizon: NaiveDateTime,
    now: DateTime<Utc>,
) -> Option<Backfill> {
    match previous {
        Some(p) if reached_horizon || !p.is_live() => Some(p),
        None if reached_horizon => None,
        _ => Some(Backfill::begin(window.start, horizon, now)),
    }
}

/// What one closed window read.
#[derive(Debug, Clone, Copy)]
pub struct WindowRead {
    pub window: Window,
    pub pages: u64,
    pub orders: u64,
}

/// After a window closed: its pages and orders count towards the catch-up, and the estimate
/// of what is left replaces the previous one (zero: live).
pub fn window_closed(
    previous: Option<Backfill>,
    read: WindowRead,
    left: Estimate,
    horizon: NaiveDateTime,
    now: DateTime<Utc>,
) -> Backfill {
    let mut progress = match previous {
        Some(p) if !p.is_live() => p,
        // Live until now (or never recorded): this window is the whole of its story.
        _ => Backfill::begin(read.window.start, horizon, now),
    };
    progress.windows += 1;
    progress.requests += read.pages;
    progress.orders += read.orders;
    progress.horizon = horizon;
    progress.remaining_requests = Some(left.requests);
    progress.remaining_secs = Some(left.seconds);
    progress.updated_at = now;
    progress
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, j2t_domain::JST_TIME_FORMAT).expect("time")
    }

    fn day(d: u32) -> Window {
        let start = at(&format!("2026-11-{d:02} 00:00:00"));
        Window {
            start,
            end: start + chrono::Duration::seconds(86_399),
        }
    }

    const HORIZON: &str = "2026-11-30 23:58:00";

    fn left(requests: u64) -> Estimate {
        Estimate {
            requests,
            seconds: requests * 63 / 100,
        }
    }

    fn read(d: u32, pages: u64, orders: u64) -> WindowRead {
        WindowRead {
            window: day(d),
            pages,
            orders,
        }
    }

    #[test]
    fn a_catch_up_begins_at_its_first_window_and_adds_up_its_windows() {
        let now = Utc::now();
        let h = at(HORIZON);
        let started = window_started(None, day(1), false, h, now).expect("begun");
        assert_eq!(started.from, day(1).start);
        assert_eq!(started.remaining_requests, None);
        let first = window_closed(Some(started), read(1, 8, 300), left(240), h, now);
        // Started again after a restart: the same catch-up goes on.
        let again = window_started(Some(first.clone()), day(2), false, h, now);
        assert_eq!(again.as_ref(), Some(&first));
        let second = window_closed(again, read(2, 9, 350), left(230), h, now);
        assert_eq!(second.from, day(1).start);
        assert_eq!(
            (second.windows, second.requests, second.orders),
            (2, 17, 650)
        );
        assert_eq!(second.remaining_requests, Some(230));
        assert!(!second.is_live());
        let last = window_closed(Some(second), read(30, 7, 300), left(0), h, now);
        assert!(last.is_live());
        assert_eq!(last.percent_done(), Some(100.0));
    }

    #[test]
    fn live_windows_keep_it_live_and_falling_behind_begins_anew() {
        let now = Utc::now();
        let h = at(HORIZON);
        assert_eq!(window_started(None, day(30), true, h, now), None);
        let live = window_closed(None, read(30, 2, 10), left(0), h, now);
        assert!(live.is_live());
        let kept = window_started(Some(live.clone()), day(30), true, h, now);
        assert_eq!(kept.as_ref(), Some(&live));
        // Down for days, then a window short of the horizon: a new catch-up from there.
        let behind = window_started(Some(live), day(3), false, h, now).expect("begun");
        assert_eq!((behind.from, behind.windows), (day(3).start, 0));
        assert_eq!(behind.remaining_requests, None);
    }
}
