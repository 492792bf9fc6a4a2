//! The console's JSON API (mounted under `/api`, behind the token check): the pipeline
//! status, recent vouchers, the dead letters with inspect and replay, and where an order is.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use j2t_domain::{DeadLetterReason, Stage, io_id_of};
use j2t_stores::{
    DeadLetters, DlqEntry, DlqError, DlqFilter, PageFrom, PipelineStatus, Replayed, Whereabouts,
    whereabouts,
};
use j2t_topology::Topology;
use serde::{Deserialize, Serialize};

use super::results::{self, RecentVoucher};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Vouchers `/api/vouchers` returns when no `limit` is given.
const DEFAULT_VOUCHERS: usize = 50;

pub struct Api {
    pub(super) topology: Arc<Topology>,
    dead_letters: DeadLetters,
    /// JST local time's offset from UTC (cursor lag is measured in it).
    utc_offset_minutes: i32,
    /// The daily reconcile's settings, for the Books panel.
    pub(super) books: super::books::Settings,
}

impl Api {
    pub fn new(
        topology: Arc<Topology>,
        utc_offset_minutes: i32,
        books: super::books::Settings,
    ) -> Self {
        Self {
            dead_letters: DeadLetters::new(&topology),
            topology,
            utc_offset_minutes,
            books,
        }
    }
}

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/vouchers", get(vouchers))
        .route("/dead-letters", get(dead_letters))
        .route("/dead-letters/{id}", get(dead_letter))
        .route("/dead-letters/{id}/replay", post(replay))
        .route("/whereis/{io_id}", get(whereis))
        .route("/reconcile", get(super::books::reconcile))
        .with_state(api)
}

/// What an API call can fail with; the body is `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    /// The request makes no sense in the current state (e.g. replaying twice).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotReplayable(String),
    /// NATS could not be read or written.
    #[error("{0}")]
    Internal(BoxError),
}

pub(super) fn internal(e: impl Into<BoxError>) -> ApiError {
    ApiError::Internal(e.into())
}

impl From<DlqError> for ApiError {
    fn from(e: DlqError) -> Self {
        match e {
            DlqError::NotReplayable { .. } => ApiError::NotReplayable(e.to_string()),
            DlqError::Nats(_) => internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotReplayable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(error) => {
                tracing::warn!(%error, "console API call failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let body = serde_json::json!({"error": self.to_string()});
        (status, Json(body)).into_response()
    }
}

type Shared = State<Arc<Api>>;

async fn status(State(api): Shared) -> Result<Json<PipelineStatus>, ApiError> {
    let status = j2t_stores::pipeline_status(&api.topology, api.utc_offset_minutes)
        .await
        .map_err(internal)?;
    Ok(Json(status))
}

#[derive(Debug, Deserialize)]
struct VouchersQuery {
    limit: Option<usize>,
}

/// The newest results first.
async fn vouchers(
    State(api): Shared,
    Query(query): Query<VouchersQuery>,
) -> Result<Json<Vec<RecentVoucher>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_VOUCHERS);
    let recent = results::recent(&api.topology, limit)
        .await
        .map_err(internal)?;
    Ok(Json(recent))
}

#[derive(Debug, Deserialize)]
struct DeadLettersQuery {
    /// Include entries already replayed.
    #[serde(default)]
    all: bool,
    /// Rows per page (default 100, at most 1000).
    limit: Option<usize>,
    /// Only entries older than this id (the last id of the previous page).
    before: Option<u64>,
}

/// Dead-letter rows `/api/dead-letters` returns when no `limit` is given, and at most.
const DEFAULT_DEAD_LETTERS: usize = 100;
const MAX_DEAD_LETTERS: usize = 1000;

/// Response header naming the `before` of the next page, when there is one.
const NEXT_BEFORE: &str = "x-next-before";

/// One line of the dead-letter list: the letter without its payload and history (see
/// `/api/dead-letters/{id}` for those), plus what the payload is about.
#[derive(Debug, Serialize, PartialEq)]
struct DeadLetterRow {
    id: u64,
    stage: Stage,
    reason: DeadLetterReason,
    error: String,
    original_subject: String,
    attempts: u64,
    first_failure: DateTime<Utc>,
    last_failure: DateTime<Utc>,
    /// The voucher's ExternalCode when the letter holds a voucher.
    external_code: Option<String>,
    /// The orders the letter holds: a voucher's io_ids, or a raw order's own.
    io_ids: Vec<i64>,
    replayed: Option<Replayed>,
}

impl From<DlqEntry> for DeadLetterRow {
    fn from(entry: DlqEntry) -> Self {
        let letter = entry.letter;
        let payload = &letter.payload;
        let io_ids = match payload.get("io_ids").and_then(|ids| ids.as_array()) {
            Some(ids) => ids.iter().filter_map(|id| id.as_i64()).collect(),
            None => io_id_of(payload).into_iter().collect(),
        };
        Self {
            id: entry.id,
            stage: letter.stage,
            external_code: payload["external_code"].as_str().map(str::to_string),
            io_ids,
            reason: letter.reason,
            error: letter.error,
            original_subject: letter.original_subject,
            attempts: letter.attempts,
            first_failure: letter.first_failure,
            last_failure: letter.last_failure,
            replayed: entry.replayed,
        }
    }
}

/// One page of pending dead letters (all with `?all=true`), newest first: `?limit=` rows
/// older than `?before=`. The `X-Next-Before` header gives the next page's `before`.
async fn dead_letters(
    State(api): Shared,
    Query(query): Query<DeadLettersQuery>,
) -> Result<Response, ApiError> {
    let filter = DlqFilter {
        include_replayed: query.all,
        ..Default::default()
    };
    let limit = query
        .limit
        .unwrap_or(DEFAULT_DEAD_LETTERS)
        .clamp(1, MAX_DEAD_LETTERS);
    let page = api
        .dead_letters
        .page(&filter, PageFrom::Before(query.before), limit)
        .await?;
    let rows: Vec<DeadLetterRow> = page.entries.into_iter().map(Into::into).collect();
    let mut response = Json(rows).into_response();
    if let Some(next) = page.next {
        response
            .headers_mut()
            .insert(NEXT_BEFORE, axum::http::HeaderValue::from(next));
    }
    Ok(response)
}

/// One entry in full: reason, error, attempt history, headers and payload.
async fn dead_letter(State(api): Shared, Path(id): Path<u64>) -> Result<Json<DlqEntry>, ApiError> {
    let entry = api.dead_letters.get(id).await?;
    entry
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no dead letter {id}")))
}

#[derive(Debug, Serialize)]
struct ReplayAnswer {
    id: u64,
    /// Where the original message was republished.
    subject: String,
}

/// Republishes the entry's message. An entry is replayed once: a second call is a conflict
/// (the republished message is deduplicated anyway, but the operator should know).
async fn replay(State(api): Shared, Path(id): Path<u64>) -> Result<Json<ReplayAnswer>, ApiError> {
    let Some(entry) = api.dead_letters.get(id).await? else {
        return Err(ApiError::NotFound(format!("no dead letter {id}")));
    };
    if let Some(done) = &entry.replayed {
        return Err(ApiError::Conflict(format!(
            "dead letter {id} was replayed at {} to {}",
            done.at.to_rfc3339(),
            done.subject
        )));
    }
    let subject = api.dead_letters.replay(&entry).await?;
    tracing::info!(id, %subject, "dead letter replayed from the console");
    Ok(Json(ReplayAnswer { id, subject }))
}

/// Everything known about one order, as `jst2tplus whereis` prints it.
async fn whereis(
    State(api): Shared,
    Path(io_id): Path<i64>,
) -> Result<Json<Whereabouts>, ApiError> {
    let found = whereabouts(&api.topology, io_id).await.map_err(internal)?;
    if found.is_unknown() {
        return Err(ApiError::NotFound(format!(
            "io_id {io_id} is unknown to the pipeline (not fetched yet?)"
        )));
    }
    Ok(Json(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use j2t_domain::DeadLetter;
    use serde_json::json;

    fn entry(payload: serde_json::Value) -> DlqEntry {
        DlqEntry {
            id: 7,
            subject: "j2t.dlq.writer.rejected".into(),
            letter: DeadLetter::first_attempt(
                Stage::Writer,
                DeadLetterReason::Rejected,
                "unknown SKU".into(),
                "j2t.vouchers.other_dispatch".into(),
                payload,
            ),
            replayed: None,
        }
    }

    #[test]
    fn a_voucher_letter_names_its_code_and_orders() {
        let row = DeadLetterRow::from(entry(json!({
            "external_code": "J2T-1", "io_ids": [3, 5], "payload": {"dto": {}}
        })));
        assert_eq!(row.id, 7);
        assert_eq!(row.stage, Stage::Writer);
        assert_eq!(row.external_code.as_deref(), Some("J2T-1"));
        assert_eq!(row.io_ids, [3, 5]);
    }

    #[test]
    fn a_raw_order_letter_names_its_io_id() {
        let row = DeadLetterRow::from(entry(json!({"io_id": "42", "items": []})));
        assert_eq!(row.external_code, None);
        assert_eq!(row.io_ids, [42]);
        let row = DeadLetterRow::from(entry(json!("not json at all")));
        assert!(row.io_ids.is_empty());
    }
}
