//! Admin endpoints of the simulated T+: fault knobs, openToken expiry, master data, deleting
//! a voucher, and the answer knobs (duplicate reply, closed period, voucher list shape).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;

use super::faults::TplusFaults;
use super::master_data::{Kind, MasterData, validate_codes};
use super::replies::{ClosedPeriod, Reply, VoucherListKnobs};
use crate::state::Store;
use crate::tokens::NewPair;

pub const TPLUS_FAULTS_PATH: &str = "/admin/tplus/faults";
/// PUT a [`NewPair`]: the app's tokens are replaced (the operator re-authorised the app).
pub const TPLUS_TOKENS_PATH: &str = "/admin/tplus/tokens";
pub const TPLUS_EXPIRE_TOKEN_PATH: &str = "/admin/tplus/token/expire";
pub const TPLUS_MASTER_DATA_PATH: &str = "/admin/tplus/master-data";
/// POST a JSON array of codes to add; DELETE `…/{code}` to remove one.
pub const TPLUS_INVENTORIES_PATH: &str = "/admin/tplus/inventories";
pub const TPLUS_WAREHOUSES_PATH: &str = "/admin/tplus/warehouses";
/// GET lists the stored vouchers; DELETE `…/{ExternalCode}` removes one (as if deleted in T+).
pub const TPLUS_VOUCHERS_PATH: &str = "/admin/tplus/vouchers";
/// PUT a [`Reply`] to answer duplicate ExternalCodes with; DELETE restores the default.
pub const TPLUS_DUPLICATE_REPLY_PATH: &str = "/admin/tplus/duplicate-reply";
/// PUT a [`ClosedPeriod`]; DELETE opens every period again.
pub const TPLUS_CLOSED_PERIOD_PATH: &str = "/admin/tplus/closed-period";
/// GET/PUT the [`VoucherListKnobs`] (missing fields take their defaults).
pub const TPLUS_VOUCHER_LIST_PATH: &str = "/admin/tplus/voucher-list";

pub fn routes() -> Router<Store> {
    Router::new()
        .route(TPLUS_FAULTS_PATH, get(faults).put(set_faults))
        .route(TPLUS_EXPIRE_TOKEN_PATH, post(expire_token))
        .route(TPLUS_TOKENS_PATH, axum::routing::put(replace_tokens))
        .route(TPLUS_MASTER_DATA_PATH, get(master_data))
        .route(TPLUS_INVENTORIES_PATH, post(add_inventories))
        .route(TPLUS_WAREHOUSES_PATH, post(add_warehouses))
        .route("/admin/tplus/inventories/{code}", delete(remove_inventory))
        .route("/admin/tplus/warehouses/{code}", delete(remove_warehouse))
        .route(
            "/admin/tplus/vouchers/{external_code}",
            delete(delete_voucher),
        )
        .route(
            TPLUS_DUPLICATE_REPLY_PATH,
            get(duplicate_reply)
                .put(set_duplicate_reply)
                .delete(reset_duplicate_reply),
        )
        .route(
            TPLUS_CLOSED_PERIOD_PATH,
            get(closed_period)
                .put(set_closed_period)
                .delete(open_periods),
        )
        .route(
            TPLUS_VOUCHER_LIST_PATH,
            get(voucher_list).put(set_voucher_list),
        )
}

/// 204 when removed (its ExternalCode is free again), 404 when T+ had no such voucher.
async fn delete_voucher(
    State(store): State<Store>,
    Path(external_code): Path<String>,
) -> StatusCode {
    if store.with(|d| d.delete_voucher(&external_code)) {
        tracing::info!(%external_code, "T+ voucher deleted");
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn duplicate_reply(State(store): State<Store>) -> Json<Option<Reply>> {
    Json(store.with(|d| d.tplus.replies.duplicate.clone()))
}

async fn set_duplicate_reply(State(store): State<Store>, body: Bytes) -> Response {
    let reply = match parse::<Reply>(&body, "Reply") {
        Ok(reply) => reply,
        Err(reason) => return bad_request(reason),
    };
    if let Err(reason) = reply.validate() {
        return bad_request(reason);
    }
    tracing::info!(?reply, "T+ duplicate reply set");
    store.with(|d| d.tplus.replies.duplicate = Some(reply.clone()));
    Json(reply).into_response()
}

async fn reset_duplicate_reply(State(store): State<Store>) -> StatusCode {
    store.with(|d| d.tplus.replies.duplicate = None);
    StatusCode::NO_CONTENT
}

async fn closed_period(State(store): State<Store>) -> Json<Option<ClosedPeriod>> {
    Json(store.with(|d| d.tplus.replies.closed.clone()))
}

async fn set_closed_period(State(store): State<Store>, body: Bytes) -> Response {
    let closed = match parse::<ClosedPeriod>(&body, "ClosedPeriod") {
        Ok(closed) => closed,
        Err(reason) => return bad_request(reason),
    };
    if let Err(reason) = closed.validate() {
        return bad_request(reason);
    }
    tracing::info!(?closed, "T+ period closed");
    store.with(|d| d.tplus.replies.closed = Some(closed.clone()));
    Json(closed).into_response()
}

async fn open_periods(State(store): State<Store>) -> StatusCode {
    store.with(|d| d.tplus.replies.closed = None);
    StatusCode::NO_CONTENT
}

async fn voucher_list(State(store): State<Store>) -> Json<VoucherListKnobs> {
    Json(store.with(|d| d.tplus.replies.voucher_list.clone()))
}

async fn set_voucher_list(State(store): State<Store>, body: Bytes) -> Response {
    let knobs = match parse::<VoucherListKnobs>(&body, "VoucherListKnobs") {
        Ok(knobs) => knobs,
        Err(reason) => return bad_request(reason),
    };
    tracing::info!(?knobs, "T+ voucher list knobs set");
    store.with(|d| d.tplus.replies.voucher_list = knobs.clone());
    Json(knobs).into_response()
}

/// A knob's JSON body; every bad body is a 400 with serde's reason.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid {what} JSON: {e}"))
}

async fn faults(State(store): State<Store>) -> Json<TplusFaults> {
    Json(store.with(|d| d.tplus.faults.clone()))
}

/// Replaces all knobs (missing fields are off) and reseeds the fault RNG. The body is parsed
/// here rather than by axum's `Json` so every bad body is a 400 with serde's reason.
async fn set_faults(State(store): State<Store>, body: Bytes) -> Response {
    let faults = match serde_json::from_slice::<TplusFaults>(&body) {
        Ok(faults) => faults,
        Err(e) => return bad_request(format!("invalid TplusFaults JSON: {e}")),
    };
    if let Err(reason) = faults.validate() {
        return bad_request(reason);
    }
    tracing::info!(?faults, "T+ faults set");
    store.with(|d| d.tplus.set_faults(faults.clone()));
    Json(faults).into_response()
}

fn bad_request(error: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
}

/// The current openToken is refused (401, 50000) until a client refreshes it.
async fn expire_token(State(store): State<Store>) -> StatusCode {
    store.with(|d| d.tplus.tokens.revoke());
    StatusCode::NO_CONTENT
}

async fn master_data(State(store): State<Store>) -> Json<MasterData> {
    Json(store.with(|d| d.tplus.master.clone()))
}

async fn add_inventories(State(store): State<Store>, body: Bytes) -> Response {
    add(&store, Kind::Inventory, &body)
}

async fn add_warehouses(State(store): State<Store>, body: Bytes) -> Response {
    add(&store, Kind::Warehouse, &body)
}

/// Body: a JSON array of codes. Answers `{"added": n}`, n counting only new codes.
fn add(store: &Store, kind: Kind, body: &[u8]) -> Response {
    let codes = match serde_json::from_slice::<Vec<String>>(body) {
        Ok(codes) => codes,
        Err(e) => return bad_request(format!("expected a JSON array of codes: {e}")),
    };
    if let Err(reason) = validate_codes(&codes) {
        return bad_request(reason);
    }
    let added = store.with(|d| d.tplus.master.add(kind, codes));
    tracing::info!(?kind, added, "T+ master data added");
    Json(json!({"added": added})).into_response()
}

async fn remove_inventory(State(store): State<Store>, Path(code): Path<String>) -> StatusCode {
    remove(&store, Kind::Inventory, &code)
}

async fn remove_warehouse(State(store): State<Store>, Path(code): Path<String>) -> StatusCode {
    remove(&store, Kind::Warehouse, &code)
}

/// 204 when removed, 404 when the code was not there.
fn remove(store: &Store, kind: Kind, code: &str) -> StatusCode {
    if store.with(|d| d.tplus.master.remove(kind, code)) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn replace_tokens(State(store): State<Store>, Json(pair): Json<NewPair>) -> StatusCode {
    store.with(|d| d.tplus.tokens.replace(pair, std::time::Instant::now()));
    StatusCode::NO_CONTENT
}
