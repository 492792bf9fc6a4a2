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

/// The live windows read so far: their requests and seconds of JST time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub requests: u64,
    pub secs: u64,
}

/// `behind_secs`: from the cursor to the horizon. `read`: what the windows read so far cost
/// per second of JST time, extrapolated as it is (it holds the paging strategy, how the
/// statuses were read, quiet or busy days). Before any window was read, each window is
/// counted at one request per status plus nothing for orders (none are known yet).
pub fn estimate(
    behind_secs: i64,
    window_secs: u64,
    statuses: usize,
    read: Option<Read>,
    spacing: Duration,
) -> Estimate {
    if behind_secs <= 0 {
        return Estimate {
            requests: 0,
            seconds: 0,
        };
    }
    let behind = behind_secs as u64;
    let requests = match read {
        Some(read) if read.secs > 0 => {
            (read.requests as f64 / read.secs as f64 * behind as f64).ceil() as u64
        }
        _ => behind.div_ceil(window_secs.max(1)) * statuses.max(1) as u64,
    };
    Estimate {
        requests,
        seconds: (spacing * u32::try_from(requests).unwrap_or(u32::MAX)).as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: Duration = Duration::from_millis(630);
    const DAY: u64 = 86_400;

    #[test]
    fn thirty_days_of_ten_thousand_orders() {
        // Three days read at 205 requests a day (10,000 orders: 204 keyset pages and the
        // Archive request): 27 days left cost 27 × 205.
        let read = Read {
            requests: 3 * 205,
            secs: 3 * DAY,
        };
        let e = estimate(27 * 86_400, DAY, 2, Some(read), GAP);
        assert_eq!(e.requests, 27 * 205);
        assert_eq!(e.seconds, 3_487); // 58 minutes at 630 ms a request
    }

    #[test]
    fn quiet_days_cost_what_they_cost() {
        // One request a day (statuses read together): not one per status.
        let read = Read {
            requests: 2,
            secs: 2 * DAY,
        };
        assert_eq!(estimate(10 * 86_400, DAY, 2, Some(read), GAP).requests, 10);
    }

    #[test]
    fn caught_up_or_nothing_read_yet() {
        let read = Some(Read {
            requests: 1,
            secs: DAY,
        });
        assert_eq!(estimate(0, DAY, 2, read, GAP).requests, 0);
        assert_eq!(estimate(-5, DAY, 2, read, GAP).seconds, 0);
        // Nothing read yet: one request per window and status.
        assert_eq!(estimate(3 * 86_400, DAY, 2, None, GAP).requests, 6);
        // A part of a window is a window.
        assert_eq!(estimate(90_000, DAY, 1, None, GAP).requests, 2);
    }
}
