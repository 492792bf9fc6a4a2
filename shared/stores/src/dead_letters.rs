//! The operator's view of the dead-letter stream: list, show, replay, purge. Used by the CLI
//! (`jst2tplus dlq …`) and the console.
//!
//! An entry's id is its sequence in the stream. Replayed entries stay in the stream (audit)
//! and are marked in a KV bucket; listings hide them unless asked.

use std::collections::BTreeMap;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, kv, message::PublishMessage};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use j2t_domain::{DeadLetter, DeadLetterReason, Stage, Window, WindowClosed};
use serde::{Deserialize, Serialize};

use crate::DeadLetterKind;
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

/// Which way a page of the listing goes from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFrom {
    /// Oldest first: entries with an id above the given one (from the start when `None`).
    After(Option<u64>),
    /// Newest first: entries with an id below the given one (from the end when `None`).
    Before(Option<u64>),
}

/// One page of the listing, in the page's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DlqPage {
    pub entries: Vec<DlqEntry>,
    /// The cursor for the next page in the same direction (the last entry's id), when more
    /// entries may follow.
    pub next: Option<u64>,
}

/// Dead letters of one kind: stored in the stream, and how many of those were replayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DlqCount {
    pub stored: u64,
    pub replayed: u64,
}

impl DlqCount {
    /// Not replayed yet.
    pub fn pending(&self) -> u64 {
        self.stored.saturating_sub(self.replayed)
    }
}

/// Raw messages read per consumer request while scanning.
const SCAN_BATCH: usize = 256;
/// Replay marks looked up at once.
const MARK_LOOKUPS: usize = 64;

/// The replay mark's key: `<stage>.<reason>.<id>`, so the marks of one kind are counted with
/// one subject filter.
fn mark_key(stage: Stage, reason: DeadLetterReason, id: u64) -> String {
    format!("{}.{}.{id}", stage.as_str(), reason.as_str())
}

/// `j2t.dlq.<stage>.<reason>` → the kind; `None` for any other subject.
fn kind_of_subject(subject: &str) -> Option<DeadLetterKind> {
    let mut tokens = subject.strip_prefix("j2t.dlq.")?.split('.');
    let stage = tokens.next()?.parse().ok()?;
    let reason = tokens.next()?.parse().ok()?;
    tokens
        .next()
        .is_none()
        .then(|| DeadLetterKind::new(stage, reason))
}

/// The subject filter for a listing: one kind, one stage, one reason or all.
fn subject_filter(filter: &DlqFilter) -> String {
    let stage = filter.stage.map_or("*", Stage::as_str);
    let reason = filter.reason.map_or("*", DeadLetterReason::as_str);
    format!("j2t.dlq.{stage}.{reason}")
}

impl DeadLetters {
    pub fn new(topology: &j2t_topology::Topology) -> Self {
        Self {
            js: topology.js.clone(),
            replayed: topology.dlq_replayed.clone(),
            cursors: topology.cursors.clone(),
        }
    }

    /// Every entry `filter` selects, oldest first. Reads the whole stream (one consumer pass
    /// and a mark lookup per entry): for commands that act on all of them. Listings page
    /// with [`DeadLetters::page`].
    pub async fn list(&self, filter: &DlqFilter) -> Result<Vec<DlqEntry>, DlqError> {
        let mut entries = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .page(filter, PageFrom::After(after), SCAN_BATCH * 4)
                .await?;
            entries.extend(page.entries);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(entries),
            }
        }
    }

    /// At most `limit` entries `filter` selects, from `from` on. Reads only as much of the
    /// stream as the page needs: the entries of the page and those the filter skips on the
    /// way (letters of other kinds are skipped by the server, by subject).
    pub async fn page(
        &self,
        filter: &DlqFilter,
        from: PageFrom,
        limit: usize,
    ) -> Result<DlqPage, DlqError> {
        self.migrate_legacy_marks().await?;
        let limit = limit.max(1);
        if !filter.ids.is_empty() {
            return self.page_of_ids(filter, from, limit).await;
        }
        let mut stream = self.js.get_stream(names::DLQ_STREAM).await.map_err(nats)?;
        let state = stream.info().await.map_err(nats)?.state.clone();
        if state.messages == 0 {
            return Ok(DlqPage {
                entries: Vec::new(),
                next: None,
            });
        }
        match from {
            PageFrom::After(after) => {
                let start = match (after, filter.since) {
                    (Some(id), _) => DeliverPolicy::ByStartSequence {
                        start_sequence: id + 1,
                    },
                    // A letter is stored after its last failure: none before `since` qualifies.
                    (None, Some(since)) => DeliverPolicy::ByStartTime {
                        start_time: time::OffsetDateTime::from_unix_timestamp(since.timestamp())
                            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                    },
                    (None, None) => DeliverPolicy::All,
                };
                let mut scan = Scan::open(&stream, subject_filter(filter), start).await?;
                let mut entries = Vec::new();
                let mut left_over = false;
                while entries.len() < limit {
                    let batch = scan.next_batch(u64::MAX).await?;
                    if batch.is_empty() {
                        break;
                    }
                    for entry in self.with_marks(batch).await? {
                        if filter.matches(&entry) {
                            if entries.len() < limit {
                                entries.push(entry);
                            } else {
                                left_over = true;
                            }
                        }
                    }
                }
                let more = entries.len() == limit && (left_over || !scan.done());
                scan.close().await;
                let next = more.then(|| entries.last().map(|e| e.id)).flatten();
                Ok(DlqPage { entries, next })
            }
            PageFrom::Before(before) => {
                let mut below = before
                    .unwrap_or(u64::MAX)
                    .min(state.last_sequence.saturating_add(1));
                let mut window = (limit as u64 * 2).max(SCAN_BATCH as u64);
                let mut entries = Vec::new();
                while entries.len() < limit && below > state.first_sequence {
                    let from = below.saturating_sub(window).max(state.first_sequence);
                    let start = DeliverPolicy::ByStartSequence {
                        start_sequence: from,
                    };
                    let mut scan = Scan::open(&stream, subject_filter(filter), start).await?;
                    let mut chunk = Vec::new();
                    loop {
                        let batch = scan.next_batch(below).await?;
                        if batch.is_empty() {
                            break;
                        }
                        chunk.extend(
                            self.with_marks(batch)
                                .await?
                                .into_iter()
                                .filter(|e| filter.matches(e)),
                        );
                    }
                    scan.close().await;
                    entries.extend(chunk.into_iter().rev().take(limit - entries.len()));
                    below = from;
                    // Sparse matches: look further back in bigger steps.
                    window = window.saturating_mul(2);
                }
                let more = entries.len() == limit
                    && entries.last().is_some_and(|e| e.id > state.first_sequence);
                let next = more.then(|| entries.last().map(|e| e.id)).flatten();
                Ok(DlqPage { entries, next })
            }
        }
    }

    async fn page_of_ids(
        &self,
        filter: &DlqFilter,
        from: PageFrom,
        limit: usize,
    ) -> Result<DlqPage, DlqError> {
        let mut ids: Vec<u64> = filter.ids.clone();
        ids.sort_unstable();
        ids.dedup();
        match from {
            PageFrom::After(after) => ids.retain(|id| after.is_none_or(|a| *id > a)),
            PageFrom::Before(before) => {
                ids.retain(|id| before.is_none_or(|b| *id < b));
                ids.reverse();
            }
        }
        let mut entries = Vec::new();
        let mut rest = ids.into_iter();
        for id in rest.by_ref() {
            if let Some(entry) = self.get(id).await?
                && filter.matches(&entry)
            {
                entries.push(entry);
                if entries.len() == limit {
                    break;
                }
            }
        }
        let next = (rest.len() > 0)
            .then(|| entries.last().map(|e| e.id))
            .flatten();
        Ok(DlqPage { entries, next })
    }

    /// Stored and replayed dead letters per kind, from the stream's per-subject counts and
    /// the number of replay marks per kind: a few requests whatever the number of entries.
    pub async fn counts(&self) -> Result<BTreeMap<DeadLetterKind, DlqCount>, DlqError> {
        self.migrate_legacy_marks().await?;
        let stream = self.js.get_stream(names::DLQ_STREAM).await.map_err(nats)?;
        let mut subjects = stream
            .info_with_subjects(names::DLQ_SUBJECTS)
            .await
            .map_err(nats)?;
        let mut counts = BTreeMap::new();
        while let Some((subject, stored)) = subjects.try_next().await.map_err(nats)? {
            if let Some(kind) = kind_of_subject(&subject)
                && stored > 0
            {
                counts.insert(
                    kind,
                    DlqCount {
                        stored: stored as u64,
                        replayed: 0,
                    },
                );
            }
        }
        let replayed = futures::future::try_join_all(counts.keys().map(|kind| {
            self.count_marks(format!(
                "{}.{}.*",
                kind.stage.as_str(),
                kind.reason.as_str()
            ))
        }))
        .await?;
        for (count, replayed) in counts.values_mut().zip(replayed) {
            count.replayed = replayed;
        }
        Ok(counts)
    }

    /// How many replay marks match `keys` (a key pattern): the number of subjects an
    /// ephemeral consumer delivering the last message per subject would deliver.
    async fn count_marks(&self, keys: String) -> Result<u64, DlqError> {
        let consumer = self
            .replayed
            .stream
            .create_consumer(pull::Config {
                filter_subject: format!("{}{keys}", self.replayed.prefix),
                deliver_policy: DeliverPolicy::LastPerSubject,
                ack_policy: AckPolicy::None,
                memory_storage: true,
                inactive_threshold: std::time::Duration::from_secs(10),
                ..Default::default()
            })
            .await
            .map_err(nats)?;
        let info = consumer.cached_info();
        let count = info.num_pending;
        let _ = self.replayed.stream.delete_consumer(&info.name).await;
        Ok(count)
    }

    /// Replay marks written before marks were keyed by kind (`<id>` alone) are re-keyed
    /// once; afterwards this is one request that finds none.
    async fn migrate_legacy_marks(&self) -> Result<(), DlqError> {
        let mut legacy = self
            .replayed
            .stream
            .info_with_subjects(format!("{}*", self.replayed.prefix))
            .await
            .map_err(nats)?;
        if legacy.try_next().await.map_err(nats)?.is_some() {
            self.sweep_marks().await?;
        }
        Ok(())
    }

    /// Tidies the replay marks: re-keys legacy marks, and drops the marks of letters no
    /// longer in the stream (aged out, or deleted by other means), which would otherwise be
    /// counted as replayed. Reads every mark's key: for the monitor to run now and then.
    /// Returns how many marks were dropped.
    pub async fn sweep_marks(&self) -> Result<u64, DlqError> {
        let mut stream = self.js.get_stream(names::DLQ_STREAM).await.map_err(nats)?;
        let first = stream.info().await.map_err(nats)?.state.first_sequence;
        let keys: Vec<String> = self
            .replayed
            .keys()
            .await
            .map_err(nats)?
            .try_collect()
            .await
            .map_err(nats)?;
        let mut dropped = 0;
        for key in keys {
            let Some(id) = key.rsplit('.').next().and_then(|id| id.parse::<u64>().ok()) else {
                continue;
            };
            if !key.contains('.') {
                // Legacy: re-key by the letter's kind, or drop when the letter is gone.
                if let Some(value) = self.replayed.get(&key).await.map_err(nats)?
                    && let Ok(message) = stream.get_raw_message(id).await
                    && let Ok(letter) = serde_json::from_slice::<DeadLetter>(&message.payload)
                {
                    self.replayed
                        .put(mark_key(letter.stage, letter.reason, id), value)
                        .await
                        .map_err(nats)?;
                } else {
                    dropped += 1;
                }
                self.erase_mark(&key).await?;
            } else if id < first {
                self.erase_mark(&key).await?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Removes every trace of a mark (no delete marker left behind to be counted).
    async fn erase_mark(&self, key: &str) -> Result<(), DlqError> {
        self.replayed
            .stream
            .purge()
            .filter(format!("{}{key}", self.replayed.prefix))
            .await
            .map_err(nats)?;
        Ok(())
    }

    /// One entry, replayed or not; `None` if there is no such entry.
    pub async fn get(&self, id: u64) -> Result<Option<DlqEntry>, DlqError> {
        let stream = self.js.get_stream(names::DLQ_STREAM).await.map_err(nats)?;
        // Deleted (purged) sequences are simply absent.
        let Ok(message) = stream.get_raw_message(id).await else {
            return Ok(None);
        };
        let raw = Raw {
            id,
            subject: message.subject.to_string(),
            payload: message.payload,
        };
        Ok(self.with_marks(vec![raw]).await?.pop())
    }

    /// The entries of raw messages (letters that do not parse are left out), with their
    /// replay marks looked up concurrently.
    async fn with_marks(&self, raws: Vec<Raw>) -> Result<Vec<DlqEntry>, DlqError> {
        let letters = raws.into_iter().filter_map(|raw| {
            let letter = serde_json::from_slice::<DeadLetter>(&raw.payload).ok()?;
            Some((raw, letter))
        });
        futures::stream::iter(letters)
            .map(|(raw, letter)| async move {
                let replayed = self
                    .replayed
                    .get(mark_key(letter.stage, letter.reason, raw.id))
                    .await
                    .map_err(nats)?
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok());
                Ok::<_, DlqError>(DlqEntry {
                    id: raw.id,
                    subject: raw.subject,
                    letter,
                    replayed,
                })
            })
            .buffered(MARK_LOOKUPS)
            .try_collect()
            .await
    }

    /// Republishes the entry's original message and marks the entry replayed. Idempotent:
    /// the republished message carries `Nats-Msg-Id = replay:<id>`. A voucher goes back to
    /// its subject; a raw order goes into a one-order window of its own (its original window
    /// was merged already), announced to the transformer like any closed window; the orders
    /// of a held-back letter (`unknown_inventory`, `unknown_warehouse`) go into one window
    /// together, so they are merged into one more voucher (held again if T+ still lacks the
    /// code). A window
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
            Subject::Changes { .. } => {
                // The change goes through the corrections again, under the policy in force
                // now; `replay_of` lets it past the "handled once" check.
                let mut event = letter.payload.get("change").cloned().ok_or_else(|| {
                    DlqError::NotReplayable {
                        id: entry.id,
                        reason: "the letter holds no change".into(),
                    }
                })?;
                event["replay_of"] = entry.id.into();
                self.publish(original, &msg_id, &event).await?;
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
            .put(
                mark_key(letter.stage, letter.reason, entry.id),
                value.into(),
            )
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
        let Some(window) = Window::from_id(names::replayed_window_id(window_id)) else {
            return Err(DlqError::NotReplayable {
                id: entry.id,
                reason: format!("{window_id} is not a window id"),
            });
        };
        let subject = names::replay_orders_subject(original, entry.id);
        let orders = match held_orders(&entry.letter) {
            Some(orders) => {
                for (i, order) in orders.iter().enumerate() {
                    self.publish(&subject, &format!("{msg_id}:{i}"), order)
                        .await?;
                }
                orders.len() as u64
            }
            None => {
                self.publish(&subject, msg_id, &entry.letter.payload)
                    .await?;
                1
            }
        };
        let closed = WindowClosed {
            task: task.to_string(),
            window,
            orders_subject: subject.clone(),
            orders,
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
            self.erase_mark(&mark_key(entry.letter.stage, entry.letter.reason, entry.id))
                .await?;
        }
        Ok(deleted)
    }
}

/// The orders of a letter holding several (the transformer's held-back orders:
/// `{"io_ids": […], "orders": […]}`); `None` for a letter holding one order as its payload.
fn held_orders(letter: &DeadLetter) -> Option<&Vec<serde_json::Value>> {
    let held = matches!(
        letter.reason,
        DeadLetterReason::UnknownInventory | DeadLetterReason::UnknownWarehouse
    );
    held.then(|| letter.payload["orders"].as_array()).flatten()
}

/// A dead letter as stored, before its payload is parsed.
struct Raw {
    id: u64,
    subject: String,
    payload: bytes::Bytes,
}

/// A pass over the stream from a start position with an ephemeral consumer (no acks, in
/// memory), read in batches.
struct Scan {
    stream: jetstream::stream::Stream,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    /// Messages the consumer still holds for us.
    left: u64,
}

impl Scan {
    async fn open(
        stream: &jetstream::stream::Stream,
        filter_subject: String,
        start: DeliverPolicy,
    ) -> Result<Self, DlqError> {
        let consumer = stream
            .create_consumer(pull::Config {
                filter_subject,
                deliver_policy: start,
                ack_policy: AckPolicy::None,
                memory_storage: true,
                inactive_threshold: std::time::Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(nats)?;
        let left = consumer.cached_info().num_pending;
        Ok(Self {
            stream: stream.clone(),
            consumer,
            left,
        })
    }

    fn done(&self) -> bool {
        self.left == 0
    }

    /// The next messages with an id below `below`; empty at the end (or at `below`).
    async fn next_batch(&mut self, below: u64) -> Result<Vec<Raw>, DlqError> {
        let mut batch = Vec::new();
        if self.left == 0 {
            return Ok(batch);
        }
        let mut messages = self
            .consumer
            .fetch()
            .max_messages(SCAN_BATCH)
            .messages()
            .await
            .map_err(nats)?;
        while let Some(message) = messages.try_next().await.map_err(nats)? {
            let info = message.info().map_err(nats)?;
            let (id, pending) = (info.stream_sequence, info.pending);
            self.left = pending;
            if id >= below {
                self.left = 0;
                break;
            }
            batch.push(Raw {
                id,
                subject: message.subject.to_string(),
                payload: message.payload.clone(),
            });
        }
        if batch.is_empty() {
            // Nothing came although the consumer said more would: treat as the end.
            self.left = 0;
        }
        Ok(batch)
    }

    async fn close(self) {
        let name = self.consumer.cached_info().name.clone();
        let _ = self.stream.delete_consumer(&name).await;
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
