//! API rate limits (JST's 5/s and 100/min; optionally T+'s), kept by construction for every
//! task, replica and restart.
//!
//! An in-process limiter (e.g. `governor`) forgets its state when the process restarts or a
//! standby takes over, and the next minute could then exceed 100 requests. So the schedule
//! lives in NATS KV: one key per app holds the earliest time the next request may leave
//! (GCRA's "theoretical arrival time"). A caller reserves the slot with a compare-and-set,
//! then sleeps until it. Requests are spaced evenly at the stricter of the two limits plus a
//! small margin, so no sliding second or minute can ever hold more than the limit.
//!
//! A limiter remembers the slot it wrote last and its revision, and first tries its claim on
//! that: while no other task or replica claimed meanwhile (the usual case: one active
//! fetcher) a claim is one round trip, not a read and a write. The compare-and-set still
//! decides, so a stale memory only costs the read it saved.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv;
use futures::future::BoxFuture;
use j2t_upstream::{BoxError, RateLimiter};

/// Requests leave this much later than the limits strictly allow (network jitter), in
/// percent, unless configured (`fetcher.rate_margin_percent`).
pub const DEFAULT_MARGIN_PERCENT: u8 = 5;

/// A stored slot further ahead than this many request intervals (and at least
/// [`MIN_MAX_AHEAD`]) cannot come from honest queueing: a clock that jumped, or a corrupted
/// value. The caller then waits at most this long and repairs the schedule.
const MAX_AHEAD_INTERVALS: u32 = 100;
const MIN_MAX_AHEAD: Duration = Duration::from_secs(60);

pub struct KvRateLimiter {
    kv: kv::Store,
    key: String,
    interval_ms: i64,
    max_ahead_ms: i64,
    /// The schedule as this limiter last wrote it: (revision, next free slot).
    last_written: std::sync::Mutex<Option<(u64, i64)>>,
}

/// Even spacing that keeps both limits: the stricter of 1 s / per_second and 60 s / per_minute
/// plus the default margin.
pub fn spacing(per_second: u32, per_minute: u32) -> Duration {
    spacing_with_margin(per_second, per_minute, DEFAULT_MARGIN_PERCENT)
}

/// The same with `margin_percent`. Never below the safe floor: evenly spaced requests put
/// floor(w / gap) + 1 of them in a closed window of length w, which stays within a limit L
/// only if gap > w / L, i.e. gap ≥ w / L + 1 ms in whole milliseconds.
pub fn spacing_with_margin(per_second: u32, per_minute: u32, margin_percent: u8) -> Duration {
    let (per_second, per_minute) = (u64::from(per_second.max(1)), u64::from(per_minute.max(1)));
    let strict = (1000.0 / per_second as f64).max(60_000.0 / per_minute as f64);
    let with_margin = (strict * (1.0 + f64::from(margin_percent) / 100.0)).ceil() as u64;
    let floor = (1000 / per_second + 1).max(60_000 / per_minute + 1);
    Duration::from_millis(with_margin.max(floor))
}

impl KvRateLimiter {
    pub fn new(kv: kv::Store, key: String, per_second: u32, per_minute: u32) -> Self {
        Self::with_margin(kv, key, per_second, per_minute, DEFAULT_MARGIN_PERCENT)
    }

    /// [`KvRateLimiter::new`] with the schedule's margin in percent.
    pub fn with_margin(
        kv: kv::Store,
        key: String,
        per_second: u32,
        per_minute: u32,
        margin_percent: u8,
    ) -> Self {
        let interval = spacing_with_margin(per_second, per_minute, margin_percent);
        Self {
            kv,
            key,
            interval_ms: interval.as_millis() as i64,
            max_ahead_ms: (interval * MAX_AHEAD_INTERVALS)
                .max(MIN_MAX_AHEAD)
                .as_millis() as i64,
            last_written: std::sync::Mutex::new(None),
        }
    }

    /// The longest a caller waits for a slot; a slot stored further ahead is replaced.
    pub fn with_max_ahead(mut self, max_ahead: Duration) -> Self {
        self.max_ahead_ms = max_ahead.as_millis() as i64;
        self
    }

    /// Claims the next free slot; returns how long to wait for it.
    async fn reserve(&self) -> Result<Duration, BoxError> {
        // First on the schedule as this limiter last wrote it (no read); the compare-and-set
        // fails if anyone wrote since, and the schedule is read then.
        let mut known = self.last_written.lock().ok().and_then(|last| *last);
        loop {
            let (next_free, revision) = match known.take() {
                Some((revision, next_free)) => (next_free, Some(revision)),
                None => self.read().await?,
            };
            let now = unix_millis();
            let mut slot = next_free.max(now);
            if slot - now > self.max_ahead_ms {
                // Implausibly far ahead: queue behind whatever honest claims there can be,
                // and write the repaired schedule with the claim.
                tracing::warn!(
                    key = %self.key,
                    ahead_secs = (slot - now) / 1000,
                    "rate-limit slot implausibly far in the future; capped"
                );
                slot = now + self.max_ahead_ms;
            }
            let next = slot + self.interval_ms;
            let value = next.to_string().into_bytes().into();
            let claimed = match revision {
                Some(revision) => match self.kv.update(&self.key, value, revision).await {
                    Ok(revision) => Some(revision),
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => None,
                    Err(e) => return Err(e.into()),
                },
                None => match self.kv.create(&self.key, value).await {
                    Ok(revision) => Some(revision),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => None,
                    Err(e) => return Err(e.into()),
                },
            };
            if let Some(revision) = claimed {
                if let Ok(mut last) = self.last_written.lock() {
                    *last = Some((revision, next));
                }
                return Ok(Duration::from_millis((slot - now).max(0) as u64));
            }
            // Another task or replica took this slot first: read the schedule again.
        }
    }

    /// The stored schedule: the next free slot (0 when none or unreadable) and its revision.
    async fn read(&self) -> Result<(i64, Option<u64>), BoxError> {
        let entry = self.kv.entry(&self.key).await?;
        Ok(match entry.filter(|e| e.operation == kv::Operation::Put) {
            Some(e) => (
                std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(0),
                Some(e.revision),
            ),
            None => (0, None),
        })
    }
}

impl RateLimiter for KvRateLimiter {
    fn admit(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            let wait = self.reserve().await?;
            tokio::time::sleep(wait).await;
            Ok(())
        })
    }
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A nats-server of its own (kept alive by the caller) and an empty schedule bucket.
    async fn bucket() -> (j2t_testkit::NatsServer, kv::Store) {
        let nats = j2t_testkit::NatsServer::start().expect("nats-server");
        let client = async_nats::connect(nats.url()).await.expect("connect");
        let kv = async_nats::jetstream::new(client)
            .create_key_value(kv::Config {
                bucket: "rate_test".into(),
                ..Default::default()
            })
            .await
            .expect("bucket");
        (nats, kv)
    }

    /// The next free slot as stored.
    async fn stored(kv: &kv::Store) -> i64 {
        std::str::from_utf8(&kv.get("app").await.expect("get").expect("slot"))
            .expect("utf8")
            .parse()
            .expect("number")
    }

    #[tokio::test]
    async fn a_slot_a_day_ahead_is_capped_and_repaired() {
        let (_nats, kv) = bucket().await;
        let day_ahead = unix_millis() + 86_400_000;
        kv.put("app", day_ahead.to_string().into_bytes().into())
            .await
            .expect("corrupt slot");
        let cap = Duration::from_secs(2);
        let limiter = KvRateLimiter::new(kv.clone(), "app".into(), 5, 100).with_max_ahead(cap);
        let wait = limiter.reserve().await.expect("reserve");
        assert!(wait <= cap, "waits {wait:?}, at most {cap:?}");
        let stored = stored(&kv).await;
        assert!(stored < day_ahead, "the slot was repaired");
        assert!(stored <= unix_millis() + (cap + spacing(5, 100)).as_millis() as i64);
        // Later callers queue normally behind the repaired slot.
        let next = limiter.reserve().await.expect("reserve");
        assert!(next <= cap + spacing(5, 100));
        // And the limiter admits (the wait is bounded by the cap).
        limiter.admit().await.expect("admitted");
    }

    #[tokio::test]
    async fn two_limiters_on_one_key_never_claim_the_same_slot() {
        let (_nats, kv) = bucket().await;
        // One request a minute: every claim lies a whole interval after the one before,
        // however slowly this test runs.
        let (a, b) = (
            KvRateLimiter::new(kv.clone(), "app".into(), 1, 1),
            KvRateLimiter::new(kv.clone(), "app".into(), 1, 1),
        );
        let interval = spacing(1, 1).as_millis() as i64;
        a.reserve().await.expect("a claims");
        let first = stored(&kv).await;
        // `a` remembers its own write; `b` claims after it, so `a`'s memory is stale.
        b.reserve().await.expect("b claims");
        assert_eq!(stored(&kv).await, first + interval);
        a.reserve().await.expect("a claims again");
        assert_eq!(
            stored(&kv).await,
            first + 2 * interval,
            "a claimed b's slot"
        );
        // Nobody else claimed: `a` goes on from its memory.
        a.reserve().await.expect("a claims a third time");
        assert_eq!(stored(&kv).await, first + 3 * interval);
    }

    #[test]
    fn the_cap_covers_honest_queues() {
        let kv_free = |per_second, per_minute| {
            (spacing(per_second, per_minute) * MAX_AHEAD_INTERVALS).max(MIN_MAX_AHEAD)
        };
        assert_eq!(kv_free(5, 100), Duration::from_secs(63));
        assert_eq!(kv_free(1, 60), Duration::from_millis(105_000));
        assert_eq!(kv_free(50, 6000), MIN_MAX_AHEAD);
    }

    #[test]
    fn spacing_keeps_both_limits_with_margin() {
        // 100/min is stricter than 5/s: 600 ms, plus 5 %.
        assert_eq!(spacing(5, 100), Duration::from_millis(630));
        // 5/s is stricter than 1000/min: 200 ms, plus 5 %.
        assert_eq!(spacing(5, 1000), Duration::from_millis(210));
        // Without a margin: the safe floor, 601 ms for 100/min (99.8 a minute, not 100).
        assert_eq!(spacing_with_margin(5, 100, 0), Duration::from_millis(601));
        assert_eq!(spacing_with_margin(5, 100, 10), Duration::from_millis(660));
        assert_eq!(spacing_with_margin(1, 60, 0), Duration::from_millis(1001));
        for (per_second, per_minute, margin) in [
            (5, 100, 5),
            (5, 1000, 5),
            (2, 600, 5),
            (10, 30, 5),
            (5, 100, 0),
            (5, 1000, 0),
            (2, 600, 0),
            (10, 30, 0),
            (1, 7, 0),
            (3, 59, 1),
        ] {
            let gap = spacing_with_margin(per_second, per_minute, margin).as_secs_f64();
            // Evenly spaced requests in any window of length w: at most floor(w / gap) + 1.
            assert!((1.0 / gap).floor() + 1.0 <= f64::from(per_second));
            assert!((60.0 / gap).floor() + 1.0 <= f64::from(per_minute));
        }
    }
}
