//! API rate limits (JST's 5/s and 100/min; optionally T+'s), kept by construction for every
//! task, replica and restart.
//!
//! An in-process limiter (e.g. `governor`) forgets its state when the process restarts or a
//! standby takes over, and the next minute could then exceed 100 requests. So the schedule
//! lives in NATS KV: one key per app holds the earliest time the next request may leave
//! (GCRA's "theoretical arrival time"). A caller reserves the slot with a compare-and-set,
//! then sleeps until it. Requests are spaced evenly at the stricter of the two limits plus a
//! small margin, so no sliding second or minute can ever hold more than the limit.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv;
use futures::future::BoxFuture;
use j2t_upstream::{BoxError, RateLimiter};

/// Requests leave this much later than the limits strictly allow (network jitter).
const MARGIN: f64 = 1.05;

pub struct KvRateLimiter {
    kv: kv::Store,
    key: String,
    interval_ms: i64,
}

/// Even spacing that keeps both limits: the stricter of 1 s / per_second and 60 s / per_minute.
pub fn spacing(per_second: u32, per_minute: u32) -> Duration {
    let per_second = 1000.0 / f64::from(per_second.max(1));
    let per_minute = 60_000.0 / f64::from(per_minute.max(1));
    Duration::from_millis((per_second.max(per_minute) * MARGIN).ceil() as u64)
}

impl KvRateLimiter {
    pub fn new(kv: kv::Store, key: String, per_second: u32, per_minute: u32) -> Self {
        Self {
            kv,
            key,
            interval_ms: spacing(per_second, per_minute).as_millis() as i64,
        }
    }

    /// Claims the next free slot; returns how long to wait for it.
    async fn reserve(&self) -> Result<Duration, BoxError> {
        loop {
            let entry = self.kv.entry(&self.key).await?;
            let (next_free, revision) = match entry.filter(|e| e.operation == kv::Operation::Put) {
                Some(e) => (
                    std::str::from_utf8(&e.value)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .unwrap_or(0),
                    Some(e.revision),
                ),
                None => (0, None),
            };
            let now = unix_millis();
            let slot = next_free.max(now);
            let value = (slot + self.interval_ms).to_string().into_bytes().into();
            let claimed = match revision {
                Some(revision) => match self.kv.update(&self.key, value, revision).await {
                    Ok(_) => true,
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => false,
                    Err(e) => return Err(e.into()),
                },
                None => match self.kv.create(&self.key, value).await {
                    Ok(_) => true,
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => false,
                    Err(e) => return Err(e.into()),
                },
            };
            if claimed {
                return Ok(Duration::from_millis((slot - now).max(0) as u64));
            }
            // Another task or replica took this slot first: read the schedule again.
        }
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

    #[test]
    fn spacing_keeps_both_limits_with_margin() {
        // 100/min is stricter than 5/s: 600 ms, plus 5 %.
        assert_eq!(spacing(5, 100), Duration::from_millis(630));
        // 5/s is stricter than 1000/min: 200 ms, plus 5 %.
        assert_eq!(spacing(5, 1000), Duration::from_millis(210));
        for (per_second, per_minute) in [(5, 100), (5, 1000), (2, 600), (10, 30)] {
            let gap = spacing(per_second, per_minute).as_secs_f64();
            // Evenly spaced requests in any window of length w: at most floor(w / gap) + 1.
            assert!((1.0 / gap).floor() + 1.0 <= f64::from(per_second) || gap >= 1.0);
            assert!((60.0 / gap).floor() + 1.0 <= f64::from(per_minute));
        }
    }
}
