//! Admin endpoints of the simulated JST's fault knobs and tokens.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::faults::JstFaults;
use crate::state::Store;
use crate::tokens::NewPair;

pub const FAULTS_PATH: &str = "/admin/jst/faults";
/// PUT a [`NewPair`]: the app's tokens are replaced (the operator re-authorised the app).
pub const TOKENS_PATH: &str = "/admin/jst/tokens";
pub const EXPIRE_TOKEN_PATH: &str = "/admin/jst/token/expire";

pub fn routes() -> Router<Store> {
    Router::new()
        .route(FAULTS_PATH, get(faults).put(set_faults))
        .route(EXPIRE_TOKEN_PATH, post(expire_token))
        .route(TOKENS_PATH, axum::routing::put(replace_tokens))
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
