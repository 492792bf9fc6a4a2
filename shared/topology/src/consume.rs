use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{Message, consumer};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::TopologyError;

type PullConsumer = consumer::Consumer<consumer::pull::Config>;

/// First and longest pause before the consumer is looked up again after an error.
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(8);

/// Feeds messages of a durable pull consumer to `handle`, up to `concurrency` at a time,
/// until `shutdown`; then stops pulling and lets in-flight handlers finish. `handle` owns
/// acking.
///
/// `open` looks the durable consumer up. On any error — the pull stream cannot start, or
/// yields an error (missed heartbeats while NATS is down, the consumer deleted) — the
/// consumer is looked up again with `open` after a pause that doubles with each failure in a
/// row (0.5 s up to 8 s) and resets once messages flow; a stream that simply ends is pulled
/// again at once.
pub async fn consume<O, OFut, F, Fut>(
    open: O,
    concurrency: usize,
    shutdown: &CancellationToken,
    handle: F,
) where
    O: Fn() -> OFut,
    OFut: Future<Output = Result<PullConsumer, TopologyError>>,
    F: Fn(Message) -> Fut,
    Fut: Future<Output = ()>,
{
    let concurrency = concurrency.max(1);
    let mut pause = FIRST_PAUSE;
    let mut consumer: Option<PullConsumer> = None;
    while !shutdown.is_cancelled() {
        let current = match consumer.take() {
            Some(current) => current,
            None => match shutdown.run_until_cancelled(open()).await {
                None => break,
                Some(Ok(current)) => current,
                Some(Err(error)) => {
                    tracing::warn!(%error, ?pause, "pull consumer not available; retrying");
                    backoff(shutdown, &mut pause).await;
                    continue;
                }
            },
        };
        // Small batches: buffered messages count against ack_wait while they wait.
        let messages = current
            .stream()
            .max_messages_per_batch(concurrency * 2)
            .messages()
            .await;
        let messages = match messages {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, ?pause, "pull stream could not start; rebuilding the consumer");
                backoff(shutdown, &mut pause).await;
                continue;
            }
        };
        let failed = AtomicBool::new(false);
        let flowing = AtomicBool::new(false);
        messages
            .take_until(shutdown.cancelled())
            .scan((), |_, item| {
                let next = match item {
                    Ok(message) => {
                        flowing.store(true, Ordering::Relaxed);
                        Some(message)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "pull stream error; rebuilding the consumer");
                        failed.store(true, Ordering::Relaxed);
                        None
                    }
                };
                std::future::ready(next)
            })
            .for_each_concurrent(concurrency, &handle)
            .await;
        if flowing.load(Ordering::Relaxed) {
            pause = FIRST_PAUSE;
        }
        if failed.load(Ordering::Relaxed) {
            backoff(shutdown, &mut pause).await;
        } else {
            consumer = Some(current);
        }
    }
}

async fn backoff(shutdown: &CancellationToken, pause: &mut Duration) {
    shutdown
        .run_until_cancelled(tokio::time::sleep(*pause))
        .await;
    *pause = (*pause * 2).min(LONGEST_PAUSE);
}
