//! Admin endpoints of the simulated JST's fault knobs, tokens, late orders and order changes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::changes::OrderChange;
use super::faults::JstFaults;
use crate::state::Store;
use crate::tokens::NewPair;

pub const FAULTS_PATH: &str = "/admin/jst/faults";
/// PUT a [`NewPair`]: the app's tokens are replaced (the operator re-authorised the app).
pub const TOKENS_PATH: &str = "/admin/jst/tokens";
pub const EXPIRE_TOKEN_PATH: &str = "/admin/jst/token/expire";
/// POST [`LateOrders`]: orders JST shows only from a later instant.
pub const LATE_ORDERS_PATH: &str = "/admin/jst/orders/late";
/// POST `{ORDERS_PATH}/{io_id}/change` with an [`OrderChange`].
pub const ORDERS_PATH: &str = "/admin/jst/orders";

pub fn routes() -> Router<Store> {
    Router::new()
        .route(FAULTS_PATH, get(faults).put(set_faults))
        .route(EXPIRE_TOKEN_PATH, post(expire_token))
        .route(LATE_ORDERS_PATH, post(add_late_orders))
        .route("/admin/jst/orders/{io_id}/change", post(change_order))
        .route(TOKENS_PATH, axum::routing::put(replace_tokens))
}

/// Orders committed late: invisible to every query until `visible_at`, or `delay_ms` after
/// the request (exactly one of them). At that instant each is written with `modified` = that
/// instant and a fresh `ts`; its `io_date` stays what was given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LateOrders {
    pub orders: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

async fn add_late_orders(State(store): State<Store>, body: Bytes) -> Response {
    let late = match serde_json::from_slice::<LateOrders>(&body) {
        Ok(late) => late,
        Err(e) => return bad_request(format!("invalid LateOrders JSON: {e}")),
    };
    let visible_at = match (late.visible_at, late.delay_ms) {
        (Some(at), None) => at,
        (None, Some(ms)) => Utc::now() + chrono::Duration::milliseconds(ms as i64),
        _ => return bad_request("give exactly one of visible_at and delay_ms".into()),
    };
    let given = late.orders.len();
    let held = store.with(|d| {
        late.orders
            .into_iter()
            .filter_map(|order| d.book.hold(order, visible_at))
            .count()
    });
    tracing::info!(held, %visible_at, "late JST orders held back");
    let status = if held == given {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body =
        json!({"held": held, "skipped_without_io_id": given - held, "visible_at": visible_at});
    (status, Json(body)).into_response()
}

/// Applies an [`OrderChange`] to a visible order: 200 with the order as it is now, 404 when
/// JST shows no such order (yet), 400 when the change does not fit it.
async fn change_order(State(store): State<Store>, Path(io_id): Path<i64>, body: Bytes) -> Response {
    let change = match serde_json::from_slice::<OrderChange>(&body) {
        Ok(change) => change,
        Err(e) => return bad_request(format!("invalid OrderChange JSON: {e}")),
    };
    let now = super::drift::jst_now(store.utc_offset_minutes);
    let offset = store.utc_offset_minutes;
    let result = store.with(|d| {
        d.book.release_due(Utc::now(), offset);
        let mut order = d.book.get(io_id).cloned()?;
        Some(change.apply(&mut order, &now).map(|()| {
            d.book.upsert(order);
            d.book.get(io_id).cloned()
        }))
    });
    match result {
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("JST shows no order {io_id}")})),
        )
            .into_response(),
        Some(Err(reason)) => bad_request(format!("order {io_id}: {reason}")),
        Some(Ok(order)) => {
            tracing::info!(io_id, ?change, "JST order changed");
            Json(order).into_response()
        }
    }
}

async fn faults(State(store): State<Store>) -> Json<JstFaults> {
    Json(store.with(|d| d.jst.faults.clone()))
}

/// Replaces all knobs (missing fields are off) and reseeds the fault RNG. The body is parsed
/// here rather than by axum's `Json` so every bad body is a 400 with serde's reason.
async fn set_faults(State(store): State<Store>, body: Bytes) -> Response {
    let faults = match serde_json::from_slice::<JstFaults>(&body) {
        Ok(faults) => faults,
        Err(e) => return bad_request(format!("invalid JstFaults JSON: {e}")),
    };
    if let Err(reason) = faults.validate() {
        return bad_request(reason);
    }
    tracing::info!(?faults, "JST faults set");
    store.with(|d| d.jst.set_faults(faults.clone()));
    Json(faults).into_response()
}

fn bad_request(error: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
}

/// The current access token is refused (code 100) until a client refreshes it.
async fn expire_token(State(store): State<Store>) -> StatusCode {
    store.with(|d| d.jst.tokens.revoke());
    StatusCode::NO_CONTENT
}

async fn replace_tokens(State(store): State<Store>, Json(pair): Json<NewPair>) -> StatusCode {
    store.with(|d| d.jst.tokens.replace(pair, std::time::Instant::now()));
    StatusCode::NO_CONTENT
}
