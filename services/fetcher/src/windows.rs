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
}
