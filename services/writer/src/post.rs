use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use j2t_tplus::{DuplicateRule, Outcome, TplusClient, classify};
use serde_json::Value;

/// Posts a voucher, retrying transient failures a few times in-process (honouring
/// Retry-After), and returns the final outcome with the number of calls made. Anything
/// still transient after that is the caller's to NAK.
pub async fn post_with_quick_retries(
    tplus: &TplusClient,
    duplicate: &DuplicateRule,
    payload: &Value,
    quick_retries: usize,
) -> (Outcome, usize) {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let attempt = || async {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match classify(&tplus.create_other_dispatch(payload).await, duplicate) {
            transient @ Outcome::Transient { .. } => Err(transient),
            done => Ok(done),
        }
    };
    let outcome = attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(quick_retries)
                .with_jitter(),
        )
        // A long Retry-After is better served by a NAK than by holding the message.
        .adjust(|outcome, delay| match outcome {
            Outcome::Transient {
                retry_after: Some(after),
                ..
            } => Some((*after).min(Duration::from_secs(10))),
            _ => delay,
        })
        .await
        .unwrap_or_else(|transient| transient);
    (outcome, calls.into_inner())
}
