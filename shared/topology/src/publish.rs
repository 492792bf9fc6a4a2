use async_nats::jetstream::{self, message::PublishMessage};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum PublishJsonError {
    #[error("encoding message for {subject}: {source}")]
    Encode {
        subject: String,
        source: serde_json::Error,
    },
    #[error("publishing to {subject}: {source}")]
    Publish {
        subject: String,
        source: async_nats::jetstream::context::PublishError,
    },
}

/// Publishes `value` as JSON with a `Nats-Msg-Id` and waits for the PubAck, which is the only
/// proof the message is stored. A retry after an error must reuse the same `msg_id`.
pub async fn publish_json<T: Serialize>(
    js: &jetstream::Context,
    subject: &str,
    msg_id: &str,
    value: &T,
) -> Result<jetstream::publish::PublishAck, PublishJsonError> {
    let payload = serde_json::to_vec(value).map_err(|source| PublishJsonError::Encode {
        subject: subject.to_string(),
        source,
    })?;
    let publish_error = |source| PublishJsonError::Publish {
        subject: subject.to_string(),
        source,
    };
    js.send_publish(
        subject.to_string(),
        PublishMessage::build()
            .payload(payload.into())
            .message_id(msg_id),
    )
    .await
    .map_err(publish_error)?
    .await
    .map_err(publish_error)
}
