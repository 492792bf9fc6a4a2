//! A snapshot of the whole pipeline read from NATS: what the console shows and what the
//! alert rules evaluate. Read-only; every service's state it needs is in streams and KV.

use std::collections::BTreeMap;

use async_nats::jetstream::{self, kv};
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use j2t_domain::{DeadLetterReason, Stage};
use j2t_topology::names;

#[derive(Debug, thiserror::Error)]
#[error("pipeline status: {0}")]
pub struct StatusError(Box<dyn std::error::Error + Send + Sync>);

fn error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StatusError {
    StatusError(e.into())
}

/// One stage of the flow: the stream feeding it and its consumer's backlog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageStatus {
    /// Messages stored in the stage's input stream.
    pub stored: u64,
    /// Messages not yet delivered to the stage's consumer.
    pub backlog: u64,
    /// Delivered but not yet acknowledged (in flight).
    pub in_flight: u64,
    /// Newest message in the stream.
    pub last_at: Option<DateTime<Utc>>,
}

/// The sync position of one fetcher task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorStatus {
    pub task: String,
    /// Everything before this JST-local time is synced.
    pub next_start: String,
    /// The window being fetched, if any (its id).
    pub pending: Option<String>,
    /// Seconds between `next_start` and now (JST local).
    pub lag_secs: i64,
    /// The task's catch-up as its fetcher last recorded it (none from a fetcher older than
    /// this field, or before its first window).
    #[serde(default)]
    pub backfill: Option<crate::BackfillStatus>,
}

/// Things only the services see, recorded in KV (`j2t_signals`) so monitors can see them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// Last time T+ answered "quota exhausted" (50112).
    pub quota_exhausted_at: Option<DateTime<Utc>>,
    /// Consecutive T+ auth failures after a refresh attempt, and when the last one was.
    pub auth_failures: u64,
    pub auth_failed_at: Option<DateTime<Utc>>,
    /// Token refreshes an API refused for good (the refresh token is expired or revoked),
    /// by API (`jst`, `tplus`): only a new pair in the configuration helps. Cleared once
    /// that API accepts a call again.
    #[serde(default)]
    pub refresh_refused: BTreeMap<String, RefreshRefused>,
}

/// One API's refused refresh: why, and when it was last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshRefused {
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineStatus {
    pub at: DateTime<Utc>,
    /// Raw orders fetched (stored in J2T_ORDERS).
    pub orders: StageStatus,
    /// Closed windows waiting for the transformer.
    pub windows: StageStatus,
    /// Vouchers built, waiting for the writer.
    pub vouchers: StageStatus,
    /// Vouchers written (J2T_RESULTS); `last_at` is the last successful write.
    pub written: StageStatus,
    /// Dead letters not yet replayed, by stage and reason (`stage.reason` in JSON).
    pub dead_letters: BTreeMap<DeadLetterKind, u64>,
    pub cursors: Vec<CursorStatus>,
    pub signals: Signals,
    /// When the stored refresh token of each API (`jst`, `tplus`) expires, where a refresh
    /// answer said so (the earliest, should several apps of one API be stored).
    #[serde(default)]
    pub refresh_expiry: BTreeMap<String, DateTime<Utc>>,
}

/// Where and why letters were dead-lettered: the two tokens of `j2t.dlq.<stage>.<reason>`,
/// kept apart (separate metric labels) and written `stage.reason` as a JSON map key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetterKind {
    pub stage: Stage,
    pub reason: DeadLetterReason,
}

impl DeadLetterKind {
    pub fn new(stage: Stage, reason: DeadLetterReason) -> Self {
        Self { stage, reason }
    }
}

impl Ord for DeadLetterKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.stage.as_str(), self.reason).cmp(&(other.stage.as_str(), other.reason))
    }
}

impl PartialOrd for DeadLetterKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for DeadLetterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.stage.as_str(), self.reason)
    }
}

impl std::str::FromStr for DeadLetterKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (stage, reason) = s
            .split_once('.')
            .ok_or_else(|| format!("`{s}` is not `stage.reason`"))?;
        Ok(Self::new(stage.parse()?, reason.parse()?))
    }
}

impl Serialize for DeadLetterKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeadLetterKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl PipelineStatus {
    pub fn dead_letters_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

/// Reads the snapshot. `utc_offset_minutes`: JST local time's offset (for cursor lag).
pub async fn pipeline_status(
    topology: &j2t_topology::Topology,
    utc_offset_minutes: i32,
) -> Result<PipelineStatus, StatusError> {
    let js = &topology.js;
    let mut status = PipelineStatus {
        at: Utc::now(),
        orders: stage(js, names::ORDERS_STREAM, None).await?,
        windows: stage(js, names::WINDOWS_STREAM, Some(names::TRANSFORMER_CONSUMER)).await?,
        vouchers: stage(js, names::VOUCHERS_STREAM, Some(names::WRITER_CONSUMER)).await?,
        written: stage(js, names::RESULTS_STREAM, None).await?,
        signals: signals(&topology.signals).await?,
        refresh_expiry: refresh_expiry(&topology.tokens).await?,
        ..Default::default()
    };
    // Counted from the stream's per-subject state and the replay marks per kind: the same
    // few requests with ten or a hundred thousand dead letters.
    let counts = crate::DeadLetters::new(topology)
        .counts()
        .await
        .map_err(error)?;
    status.dead_letters = counts
        .into_iter()
        .map(|(kind, count)| (kind, count.pending()))
        .filter(|(_, pending)| *pending > 0)
        .collect();
    let now_local = Utc::now().naive_utc() + chrono::Duration::minutes(utc_offset_minutes.into());
    status.cursors = cursors(&topology.cursors, now_local).await?;
    Ok(status)
}

async fn stage(
    js: &jetstream::Context,
    stream_name: &str,
    consumer: Option<&str>,
) -> Result<StageStatus, StatusError> {
    let Ok(mut stream) = js.get_stream(stream_name).await else {
        return Ok(StageStatus::default());
    };
    let info = stream.info().await.map_err(error)?;
    let mut status = StageStatus {
        stored: info.state.messages,
        last_at: (info.state.messages > 0)
            .then(|| DateTime::<Utc>::from_timestamp(info.state.last_timestamp.unix_timestamp(), 0))
            .flatten(),
        ..Default::default()
    };
    if let Some(name) = consumer
        && let Ok(mut consumer) = stream
            .get_consumer::<jetstream::consumer::pull::Config>(name)
            .await
    {
        let info = consumer.info().await.map_err(error)?;
        status.backlog = info.num_pending;
        status.in_flight = info.num_ack_pending as u64;
    }
    Ok(status)
}

/// Every key of a bucket.
async fn all_keys(kv: &kv::Store) -> Result<Vec<String>, StatusError> {
    kv.keys()
        .await
        .map_err(error)?
        .try_collect()
        .await
        .map_err(error)
}

async fn cursors(
    kv: &kv::Store,
    now_local: NaiveDateTime,
) -> Result<Vec<CursorStatus>, StatusError> {
    let keys = all_keys(kv).await?;
    let mut cursors = Vec::new();
    for task in keys {
        if !j2t_topology::names::is_cursor_key(&task) {
            continue;
        }
        let Some(bytes) = kv.get(&task).await.map_err(error)? else {
            continue;
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let next_start = value["next_start"].as_str().unwrap_or_default().to_string();
        let lag_secs = NaiveDateTime::parse_from_str(&next_start, j2t_domain::JST_TIME_FORMAT)
            .map(|t| (now_local - t).num_seconds().max(0))
            .unwrap_or_default();
        let pending = value["pending"].as_object().and_then(|w| {
            let window: j2t_domain::Window =
                serde_json::from_value(serde_json::Value::Object(w.clone())).ok()?;
            Some(window.id())
        });
        // An unreadable progress record hides the progress, not the cursor.
        let backfill = serde_json::from_value::<crate::Backfill>(value["backfill"].clone())
            .ok()
            .map(crate::BackfillStatus::from);
        cursors.push(CursorStatus {
            task,
            next_start,
            pending,
            lag_secs,
            backfill,
        });
    }
    Ok(cursors)
}

const SIGNALS_KEY: &str = "signals";

/// The stored pairs' refresh-token expiry, by API (the KV key's first token). Only that
/// field is read from each record; the tokens are not kept.
async fn refresh_expiry(kv: &kv::Store) -> Result<BTreeMap<String, DateTime<Utc>>, StatusError> {
    let keys = all_keys(kv).await?;
    let mut expiry = BTreeMap::new();
    for key in keys {
        let Some((api, _app)) = key.split_once('.') else {
            continue;
        };
        let Some(bytes) = kv.get(&key).await.map_err(error)? else {
            continue;
        };
        if let Some(at) = j2t_upstream::stored_refresh_expiry(&bytes)
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
        {
            let earliest = expiry.entry(api.to_string()).or_insert(at);
            *earliest = (*earliest).min(at);
        }
    }
    Ok(expiry)
}

async fn signals(kv: &kv::Store) -> Result<Signals, StatusError> {
    let stored = kv.get(SIGNALS_KEY).await.map_err(error)?;
    Ok(stored
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default())
}

/// Updates the shared signals (read-modify-write with optimistic concurrency).
pub async fn update_signals(
    kv: &kv::Store,
    change: impl Fn(&mut Signals),
) -> Result<(), StatusError> {
    for _ in 0..5 {
        let entry = kv.entry(SIGNALS_KEY).await.map_err(error)?;
        let (mut signals, revision) = match entry.filter(|e| e.operation == kv::Operation::Put) {
            Some(e) => (
                serde_json::from_slice(&e.value).unwrap_or_default(),
                Some(e.revision),
            ),
            None => (Signals::default(), None),
        };
        change(&mut signals);
        let value = serde_json::to_vec(&signals).map_err(error)?.into();
        let written = match revision {
            Some(r) => kv.update(SIGNALS_KEY, value, r).await.is_ok(),
            None => kv.create(SIGNALS_KEY, value).await.is_ok(),
        };
        if written {
            return Ok(());
        }
    }
    Err(error(
        "signals kept changing underneath; gave up after 5 tries",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_kinds_are_stage_dot_reason_in_json() {
        let mut status = PipelineStatus::default();
        status.dead_letters.insert(
            DeadLetterKind::new(Stage::Writer, DeadLetterReason::Rejected),
            2,
        );
        let json = serde_json::to_value(&status).expect("json");
        assert_eq!(
            json["dead_letters"],
            serde_json::json!({"writer.rejected": 2})
        );
        let back: PipelineStatus = serde_json::from_value(json).expect("parse");
        assert_eq!(back, status);
    }
}
