//! How long a task that starts far behind needs to catch up, estimated from the density of
//! the windows it has read so far (the orders of the days ahead are not known without
//! spending requests on them).

use std::time::Duration;

/// Requests still to make and the time they take at the rate schedule's spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub requests: u64,
    pub seconds: u64,
}

/// `behind_secs`: from the cursor to the horizon. Each window costs at least one request per
/// status; its orders fill pages of `page_size - 1` new rows (keyset paging repeats the last
/// row of a page). `orders_per_sec`: orders read so far ÷ seconds of JST time read.
pub fn estimate(
    behind_secs: i64,
    window_secs: u64,
    statuses: usize,
    orders_per_sec: f64,
    page_size: u32,
    spacing: Duration,
) -> Estimate {
    if behind_secs <= 0 {
        return Estimate {
            requests: 0,
            seconds: 0,
        };
    }
    let behind = behind_secs as u64;
    let windows = behind.div_ceil(window_secs.max(1));
    let orders = (orders_per_sec.max(0.0) * behind as f64).ceil() as u64;
    let requests = windows * statuses.max(1) as u64 + orders / u64::from(page_size.max(2) - 1);
    Estimate {
        requests,
        seconds: (spacing * u32::try_from(requests).unwrap_or(u32::MAX)).as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: Duration = Duration::from_millis(630);

    #[test]
    fn thirty_days_of_ten_thousand_orders() {
        // 10,000 a day in daily windows, Confirmed and Archive: 60 + 300,000 / 49 requests.
        let e = estimate(30 * 86_400, 86_400, 2, 10_000.0 / 86_400.0, 50, GAP);
        assert_eq!(e.requests, 60 + 6_122);
        assert_eq!(e.seconds, 3_894); // 65 minutes at 630 ms a request
    }

    #[test]
    fn caught_up_or_empty() {
        assert_eq!(estimate(0, 86_400, 2, 1.0, 50, GAP).requests, 0);
        assert_eq!(estimate(-5, 86_400, 2, 1.0, 50, GAP).seconds, 0);
        // No orders seen yet: one request per window and status.
        assert_eq!(estimate(3 * 86_400, 86_400, 2, 0.0, 50, GAP).requests, 6);
        // A part of a window is a window.
        assert_eq!(estimate(90_000, 86_400, 1, 0.0, 50, GAP).requests, 2);
    }
}
