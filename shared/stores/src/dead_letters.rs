//! The operator's view of the dead-letter stream: list, show, replay, purge. Used by the CLI
//! (`jst2tplus dlq …`) and the console.
//!
//! An entry's id is its sequence in the stream. Replayed entries stay in the stream (audit)
//! and are marked in a KV bucket; listings hide them unless asked.

use async_nats::jetstream::{self, kv, message::PublishMessage};
use chrono::{DateTime, Utc};
use j2t_domain::{DeadLetter, DeadLetterReason, Stage, Window, WindowClosed};
use serde::{Deserialize, Serialize};

use j2t_topology::{Subject, names};

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("dead-letter stream: {0}")]
    Nats(Box<dyn std::error::Error + Send + Sync>),
    #[error("dead letter {id} cannot be replayed: {reason}")]
    NotReplayable { id: u64, reason: String },
}

fn nats(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> DlqError {
    DlqError::Nats(e.into())
}

/// When and where an entry was replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replayed {
    pub at: DateTime<Utc>,
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DlqEntry {
    pub id: u64,
    pub subject: String,
    pub letter: DeadLetter,
    pub replayed: Option<Replayed>,
}

/// Which entries an operation applies to. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct DlqFilter {
    pub ids: Vec<u64>,
    pub stage: Option<Stage>,
    pub reason: Option<DeadLetterReason>,
    /// Only letters whose last failure is at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub include_replayed: bool,
}

impl DlqFilter {
    pub fn matches(&self, entry: &DlqEntry) -> bool {
        (self.ids.is_empty() || self.ids.contains(&entry.id))
            && self.stage.is_none_or(|s| entry.letter.stage == s)
            && self.reason.is_none_or(|r| entry.letter.reason == r)
            && self.since.is_none_or(|t| entry.letter.last_failure >= t)
            && (self.include_replayed || entry.replayed.is_none())
    }
}

pub struct DeadLetters {
    js: jetstream::Context,
    replayed: kv::Store,
    cursors: kv::Store,
}

impl DeadLetters {
    pub fn new(topology: &j2t_topology::Topology) -> Self {
        Self {
            js: topology.js.clone(),
            replayed: topology.dlq_replayed.clone(),
            cursors: topology.cursors.clone(),
        }
    }

    /// The entries `filter` selects, oldest first.
    pub async fn list(&self, filter: &DlqFilter) -> Result<Vec<DlqEntry>, DlqError> {
        let mut stream = self.js.get_stream(names::DLQ_STREAM).await.map_err(nats)?;
        let state = stream.info().await.map_err(nats)?.state.clone();
        let mut entries = Vec::new();
        if state.messages == 0 {
            return Ok(entries);
        }
        for id in state.first_sequence..=state.last_sequence {
            if !filter.ids.is_empty() && !filter.ids.contains(&id) {
                continue;
            }
            if let Some(entry) = self.read(&stream, id).await?
                && filter.matches(&entry)
            {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    /// One entry, replayed or not; `None` if there is no such entry.
    pub async fn get(&self, id: u64) -> Result<Option<DlqEntry>, DlqError> {
        let stream = self.js.get_stream(names::DLQ_STREAM).await.map_err(nats)?;
        self.read(&stream, id).await
    }

    async fn read(
        &self,
        stream: &jetstream::stream::Stream,
        id: u64,
    ) -> Result<Option<DlqEntry>, DlqError> {
        // Deleted (purged) sequences are simply absent.
        let Ok(message) = stream.get_raw_message(id).await else {
            return Ok(None);
        };
        let Ok(letter) = serde_json::from_slice::<DeadLetter>(&message.payload) else {
            return Ok(None);
        };
        let replayed = self
            .replayed
            .get(id.to_string())
            .await
            .map_err(nats)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        Ok(Some(DlqEntry {
            id,
            subject: message.subject.to_string(),
            letter,
            replayed,
        }))
    }

    /// Republishes the entry's original message and marks the entry replayed. Idempotent:
    /// the republished message carries `Nats-Msg-Id = replay:<id>`. A voucher goes back to
    /// its subject; a raw order goes into a one-order window of its own (its original window
    /// was merged already), announced to the transformer like any closed window. A window
    /// the fetcher gave up on is asked of the fetcher again (a replay key beside the task's
    /// cursor); a window event the transformer gave up on goes back to its subject.
    pub async fn replay(&self, entry: &DlqEntry) -> Result<String, DlqError> {
        let letter = &entry.letter;
        let msg_id = format!("replay:{}", entry.id);
        let original = letter.original_subject.as_str();
        let subject = match Subject::parse(original) {
            Subject::Orders { task, window_id }
                if letter.stage == Stage::Fetcher
                    && letter.reason == DeadLetterReason::WindowFailed =>
            {
                let key = names::window_replay_key(task, window_id);
                self.cursors
                    .put(&key, b"{}".as_slice().into())
                    .await
                    .map_err(nats)?;
                format!("{}/{key}", names::CURSORS_BUCKET)
            }
            Subject::Orders { task, window_id } => {
                self.replay_order(entry, task, window_id, &msg_id).await?
            }
            Subject::Windows { .. } => {
                self.publish(original, &msg_id, &letter.payload).await?;
                original.to_string()
            }
            Subject::Vouchers => {
                self.publish(original, &msg_id, &letter.payload).await?;
                original.to_string()
            }
            Subject::Other => {
                return Err(DlqError::NotReplayable {
                    id: entry.id,
                    reason: format!("no replay for messages from {original}"),
                });
            }
        };
        let mark = Replayed {
            at: Utc::now(),
            subject: subject.clone(),
        };
        let value = serde_json::to_vec(&mark).map_err(nats)?;
        self.replayed
            .put(entry.id.to_string(), value.into())
            .await
            .map_err(nats)?;
        Ok(subject)
    }

    async fn replay_order(
        &self,
        entry: &DlqEntry,
        task: &str,
        window_id: &str,
        msg_id: &str,
    ) -> Result<String, DlqError> {
        let original = &entry.letter.original_subject;
        let Some(window) = Window::from_id(window_id) else {
            return Err(DlqError::NotReplayable {
                id: entry.id,
                reason: format!("{window_id} is not a window id"),
            });
        };
        let subject = names::replay_orders_subject(original, entry.id);
        self.publish(&subject, msg_id, &entry.letter.payload)
            .await?;
        let closed = WindowClosed {
            task: task.to_string(),
            window,
            orders_subject: subject.clone(),
            orders: 1,
        };
        let event = serde_json::to_value(&closed).map_err(nats)?;
        self.publish(&names::windows_subject(task), msg_id, &event)
            .await?;
        Ok(subject)
    }

    async fn publish(
        &self,
        subject: &str,
        msg_id: &str,
        payload: &serde_json::Value,
    ) -> Result<(), DlqError> {
        let body = serde_json::to_vec(payload).map_err(nats)?;
        self.js
            .send_publish(
                subject.to_string(),
                PublishMessage::build()
                    .payload(body.into())
                    .message_id(msg_id),
            )
            .await
            .map_err(nats)?
            .await
            .map_err(nats)?;
        Ok(())
    }

    /// Deletes the entries from the stream for good; returns how many were deleted.
    pub async fn purge(&self, entries: &[DlqEntry]) -> Result<u64, DlqError> {
        let stream = self.js.get_stream(names::DLQ_STREAM).await.map_err(nats)?;
        let mut deleted = 0;
        for entry in entries {
            if stream.delete_message(entry.id).await.map_err(nats)? {
                deleted += 1;
            }
            self.replayed
                .purge(entry.id.to_string())
                .await
                .map_err(nats)?;
        }
        Ok(deleted)
    }
}

/// Stores a dead letter on `j2t.dlq.<stage>.<reason>`. `msg_id` makes a retried dead-lettering
/// of the same failure a no-op.
pub async fn publish_dead_letter(
    js: &async_nats::jetstream::Context,
    letter: &j2t_domain::DeadLetter,
    msg_id: &str,
) -> Result<async_nats::jetstream::publish::PublishAck, j2t_topology::PublishJsonError> {
    let subject = j2t_topology::names::dlq_subject(letter.stage, letter.reason);
    let ack = j2t_topology::publish_json(js, &subject, msg_id, letter).await?;
    // Every dead letter of every stage is logged here, once.
    tracing::warn!(
        stage = letter.stage.as_str(),
        reason = letter.reason.as_str(),
        error = %letter.error,
        original_subject = %letter.original_subject,
        msg_id,
        "dead-lettered"
    );
    metrics::counter!("j2t_dead_letters_total", "stage" => letter.stage.as_str(), "reason" => letter.reason.as_str())
        .increment(1);
    Ok(ack)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, stage: Stage, reason: DeadLetterReason, replayed: bool) -> DlqEntry {
        DlqEntry {
            id,
            subject: String::new(),
            letter: DeadLetter::first_attempt(
                stage,
                reason,
                "e".into(),
                "j2t.vouchers.other_dispatch".into(),
                serde_json::Value::Null,
            ),
            replayed: replayed.then(|| Replayed {
                at: Utc::now(),
                subject: String::new(),
            }),
        }
    }

    #[test]
    fn filters_combine_and_hide_replayed_entries_by_default() {
        let entries = [
            entry(1, Stage::Writer, DeadLetterReason::Rejected, false),
            entry(2, Stage::Writer, DeadLetterReason::RetriesExhausted, false),
            entry(3, Stage::Transformer, DeadLetterReason::BadOrder, false),
            entry(4, Stage::Writer, DeadLetterReason::Rejected, true),
        ];
        let ids = |f: DlqFilter| -> Vec<u64> {
            entries
                .iter()
                .filter(|e| f.matches(e))
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(ids(DlqFilter::default()), [1, 2, 3]);
        let writer = DlqFilter {
            stage: Some(Stage::Writer),
            ..Default::default()
        };
        assert_eq!(ids(writer.clone()), [1, 2]);
        let rejected = DlqFilter {
            reason: Some(DeadLetterReason::Rejected),
            include_replayed: true,
            ..writer
        };
        assert_eq!(ids(rejected), [1, 4]);
        let picked = DlqFilter {
            ids: vec![3, 4],
            ..Default::default()
        };
        assert_eq!(ids(picked), [3]);
        let future = DlqFilter {
            since: Some(Utc::now() + chrono::Duration::hours(1)),
            ..Default::default()
        };
        assert!(ids(future).is_empty());
    }
}
