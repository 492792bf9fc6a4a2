use chrono::{Duration, NaiveDateTime, Timelike};
use j2t_domain::Window;

/// The next window starting at `start`: never longer than `max_len`, ending on a multiple of
/// `max_len` counted from midnight (so daily windows cover whole days and merge per day), and
/// never later than `horizon` (now minus the safety lag). `None` when caught up.
pub fn next_window(
    start: NaiveDateTime,
    horizon: NaiveDateTime,
    max_len: Duration,
) -> Option<Window> {
    if start > horizon {
        return None;
    }
    let len = max_len.num_seconds().max(1);
    let midnight = start.date().and_hms_opt(0, 0, 0)?;
    let since_midnight = i64::from(start.num_seconds_from_midnight());
    // For windows longer than a day, align to days since the epoch instead.
    let boundary = if len <= 86_400 {
        midnight + Duration::seconds((since_midnight / len + 1) * len)
    } else {
        let epoch = chrono::DateTime::UNIX_EPOCH.naive_utc();
        let since = (start - epoch).num_seconds();
        epoch + Duration::seconds((since / len + 1) * len)
    };
    let end = (boundary - Duration::seconds(1)).min(horizon);
    Some(Window { start, end })
}

/// Orders a grown window is sized to hold at most: 100 full pages. It bounds what the
/// transformer holds at once, what a failed window reads again, and how long a catch-up's
/// vouchers wait for their window to close.
pub const GROWN_WINDOW_ORDERS: u64 = 5_000;

/// A window read to its end before the horizon: how many shipped orders its time held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Density {
    pub orders: u64,
    pub secs: u64,
}

/// How many whole days the next window may span, when more than the configured window: a
/// quiet task's windows grow (up to `max_days`) so that each status costs one request for
/// several days instead of one a day. Only `last`, a window read before the horizon, is
/// evidence: a live window of a few seconds says nothing about a day. A window is at most
/// twice as long as its evidence, so one quiet window (a holiday, the days before a shop
/// opened) cannot launch a week of a busy shop. `None`: the configured `base` length.
pub fn grown_days(base_secs: u64, max_days: u32, last: Option<Density>) -> Option<u32> {
    let last = last.filter(|d| d.secs > 0)?;
    let fits = GROWN_WINDOW_ORDERS.saturating_mul(last.secs) / (last.orders.max(1) * 86_400);
    let doubled = 2 * last.secs / 86_400;
    let days = fits.min(doubled).min(u64::from(max_days)) as u32;
    (u64::from(days) * 86_400 > base_secs && days >= 2).then_some(days)
}

/// The next window of `days` whole days from `start`'s day (so a window starting mid-day is
/// shorter), never later than `horizon`. `None` when caught up.
pub fn days_window(start: NaiveDateTime, horizon: NaiveDateTime, days: u32) -> Option<Window> {
    if start > horizon {
        return None;
    }
    let midnight = start.date().and_hms_opt(0, 0, 0)?;
    let end = (midnight + Duration::days(days.into()) - Duration::seconds(1)).min(horizon);
    Some(Window { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, j2t_domain::JST_TIME_FORMAT).expect("valid")
    }

    #[test]
    fn daily_windows_cover_whole_days_and_stop_at_the_horizon() {
        let day = Duration::days(1);
        let horizon = t("2026-11-28 10:00:00");
        let w = next_window(t("2026-11-25 00:00:00"), horizon, day).expect("window");
        assert_eq!(
            (w.start, w.end),
            (t("2026-11-25 00:00:00"), t("2026-11-25 23:59:59"))
        );
        let w = next_window(t("2026-11-25 13:30:00"), horizon, day).expect("window");
        assert_eq!(w.end, t("2026-11-25 23:59:59"));
        let w = next_window(t("2026-11-28 00:00:00"), horizon, day).expect("window");
        assert_eq!(w.end, horizon);
        assert_eq!(next_window(t("2026-11-28 10:00:01"), horizon, day), None);
    }

    #[test]
    fn windows_never_exceed_max_len() {
        let horizon = t("2026-12-31 00:00:00");
        for (start, len) in [
            ("2026-11-25 07:13:00", 3600),
            ("2026-11-25 00:00:00", 7 * 86_400),
        ] {
            let w = next_window(t(start), horizon, Duration::seconds(len)).expect("window");
            assert!((w.end - w.start).num_seconds() < len, "{w:?}");
            assert!(w.end >= w.start);
        }
    }

    fn read_for(orders: u64, secs: u64) -> Option<Density> {
        Some(Density { orders, secs })
    }

    #[test]
    fn quiet_windows_grow_in_whole_days_and_busy_ones_do_not() {
        let day = 86_400;
        let read = |orders, days: u64| read_for(orders, days * day);
        // 53 a day: at most twice the evidence, then 7 days (371 orders, far below 5,000).
        assert_eq!(grown_days(day, 7, read(53, 1)), Some(2));
        assert_eq!(grown_days(day, 7, read(106, 2)), Some(4));
        assert_eq!(grown_days(day, 7, read(212, 4)), Some(7));
        assert_eq!(grown_days(day, 5, read(371, 7)), Some(5));
        assert_eq!(grown_days(day, 7, read(0, 7)), Some(7));
        // A quiet window shorter than a day (a task's first, from its lookback) does not grow.
        assert_eq!(grown_days(day, 7, read_for(0, 71_000)), None);
        // 1,000 a day: 5 days hold 5,000; 1,100 a day: 4 days.
        assert_eq!(grown_days(day, 7, read(6_000, 6)), Some(5));
        assert_eq!(grown_days(day, 7, read(5_500, 5)), Some(4));
        // Busy days, no evidence, growth off, or no longer than the configured window.
        assert_eq!(grown_days(day, 7, read(3_000, 1)), None);
        assert_eq!(grown_days(day, 7, None), None);
        assert_eq!(grown_days(day, 1, read(53, 1)), None);
        assert_eq!(grown_days(3 * day, 7, read(4_000, 2)), None);
        assert_eq!(grown_days(3 * day, 7, read(53, 3)), Some(6));
    }

    #[test]
    fn grown_windows_end_at_midnight_or_the_horizon() {
        let horizon = t("2026-11-28 10:00:00");
        let w = days_window(t("2026-11-20 00:00:00"), horizon, 3).expect("window");
        assert_eq!(w.end, t("2026-11-22 23:59:59"));
        let w = days_window(t("2026-11-20 13:30:00"), horizon, 3).expect("window");
        assert_eq!(w.end, t("2026-11-22 23:59:59"));
        let w = days_window(t("2026-11-25 00:00:00"), horizon, 7).expect("window");
        assert_eq!(w.end, horizon);
        assert_eq!(days_window(t("2026-11-28 10:00:01"), horizon, 7), None);
    }
}
