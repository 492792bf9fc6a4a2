//! JST's call limits per app_key: more than 5 calls in any sliding second → code 199, more
//! than 100 in any sliding minute → code 200. Calls are counted by receive time, and every
//! call counts, refused or not (JST meters calls, not successes).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The documented limits.
pub const PER_SECOND: u32 = 5;
pub const PER_MINUTE: u32 = 100;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_second: u32,
    pub per_minute: u32,
}

/// Which limit a call broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// Code 199.
    PerSecond,
    /// Code 200.
    PerMinute,
}

impl Exceeded {
    pub fn code(self) -> i64 {
        match self {
            Self::PerSecond => 199,
            Self::PerMinute => 200,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::PerSecond => "调用频次超过限制!请稍后再试",
            Self::PerMinute => "调用频次超过限制",
        }
    }
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Receive times of each app_key's calls in the last minute.
    calls: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    /// Records a call received at `at` and says which limit it breaks, if any.
    pub fn record(&mut self, app_key: &str, at: Instant, limits: Limits) -> Option<Exceeded> {
        let calls = self.calls.entry(app_key.to_string()).or_default();
        // Receive times can reach the limiter slightly out of order (latency sleeps, lock
        // contention), so every entry is compared instead of assuming the deque is sorted.
        calls.retain(|&t| within(at, t, MINUTE));
        calls.push_back(at);
        let last_second = calls.iter().filter(|&&t| within(at, t, SECOND)).count();
        if last_second > limits.per_second as usize {
            Some(Exceeded::PerSecond)
        } else if calls.len() > limits.per_minute as usize {
            Some(Exceeded::PerMinute)
        } else {
            None
        }
    }
}

/// `t` lies less than `span` before `now` (or after it).
fn within(now: Instant, t: Instant, span: Duration) -> bool {
    now.saturating_duration_since(t) < span
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: Limits = Limits {
        per_second: PER_SECOND,
        per_minute: PER_MINUTE,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn sixth_call_within_one_second_breaks_the_per_second_limit() {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(limiter.record("app", t0 + ms(i * 150), REAL), None);
        }
        assert_eq!(
            limiter.record("app", t0 + ms(900), REAL),
            Some(Exceeded::PerSecond)
        );
        // The refused call counts too: one more in the same second is refused as well.
        assert_eq!(
            limiter.record("app", t0 + ms(950), REAL),
            Some(Exceeded::PerSecond)
        );
        // Other app keys have their own windows.
        assert_eq!(limiter.record("other", t0 + ms(950), REAL), None);
    }

    #[test]
    fn the_second_window_slides() {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(limiter.record("app", t0 + ms(i * 10), REAL), None);
        }
        // Exactly one second after the first call, that call has left the window.
        assert_eq!(limiter.record("app", t0 + ms(1_000), REAL), None);
        assert_eq!(
            limiter.record("app", t0 + ms(1_005), REAL),
            Some(Exceeded::PerSecond)
        );
    }

    #[test]
    fn call_101_within_a_minute_breaks_the_per_minute_limit_until_the_window_slides() {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now();
        // Four calls a second stay under 5/s; the 101st arrives 25 s after the first.
        for i in 0..100 {
            assert_eq!(limiter.record("app", t0 + ms(i * 250), REAL), None, "{i}");
        }
        assert_eq!(
            limiter.record("app", t0 + ms(25_000), REAL),
            Some(Exceeded::PerMinute)
        );
        // 60.5 s after the start, the first three calls (at 0, 0.25, 0.5 s) have left the
        // minute: 98 older calls plus this one.
        assert_eq!(limiter.record("app", t0 + ms(60_500), REAL), None);
    }

    #[test]
    fn out_of_order_receive_times_are_counted() {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now() + Duration::from_secs(1);
        let tight = Limits {
            per_second: 1,
            per_minute: 100,
        };
        assert_eq!(limiter.record("app", t0, tight), None);
        assert_eq!(
            limiter.record("app", t0 - ms(10), tight),
            Some(Exceeded::PerSecond)
        );
    }
}
