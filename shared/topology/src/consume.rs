use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{Message, consumer};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// Feeds messages of a durable pull consumer to `handle`, up to `concurrency` at a time,
/// until `shutdown`; then stops pulling and lets in-flight handlers finish. Stream errors are
/// logged and the pull stream rebuilt (the pattern Vector's NATS source uses). `handle` owns
/// acking.
pub async fn consume<F, Fut>(
    consumer: &consumer::Consumer<consumer::pull::Config>,
    concurrency: usize,
    shutdown: &CancellationToken,
    handle: F,
) where
    F: Fn(Message) -> Fut,
    Fut: Future<Output = ()>,
{
    let concurrency = concurrency.max(1);
    while !shutdown.is_cancelled() {
        // Small batches: buffered messages count against ack_wait while they wait.
        let messages = consumer
            .stream()
            .max_messages_per_batch(concurrency * 2)
            .messages()
            .await;
        let messages = match messages {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, "pull stream could not start; retrying");
                let pause = tokio::time::sleep(Duration::from_secs(1));
                shutdown.run_until_cancelled(pause).await;
                continue;
            }
        };
        messages
            .take_until(shutdown.cancelled())
            .filter_map(|item| async move {
                item.inspect_err(|error| tracing::warn!(%error, "pull stream error"))
                    .ok()
            })
            .for_each_concurrent(concurrency, &handle)
            .await;
    }
}
