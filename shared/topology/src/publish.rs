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

/// Stores a dead letter on `j2t.dlq.<stage>.<reason>`. `msg_id` makes a retried dead-lettering
/// of the same failure a no-op.
pub async fn publish_dead_letter(
    js: &jetstream::Context,
    letter: &j2t_domain::DeadLetter,
    msg_id: &str,
) -> Result<jetstream::publish::PublishAck, PublishJsonError> {
    let subject = crate::names::dlq_subject(letter.stage.as_str(), &letter.reason);
    let ack = publish_json(js, &subject, msg_id, letter).await?;
    // Reasons are a small fixed set of subject tokens, so the labels stay bounded.
    metrics::counter!("j2t_dead_letters_total", "stage" => letter.stage.as_str(), "reason" => letter.reason.clone())
        .increment(1);
    Ok(ack)
}
