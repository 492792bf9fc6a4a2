//! Admin API for tests and the demo: seed orders, read what the simulated systems hold, and
//! (through the JST and T+ admin routes) set faults, expire tokens and edit T+ master data.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::demo_data::{DemoSpec, demo_orders};
use crate::state::{Stats, Store, StoredVoucher};

pub fn routes() -> Router<Store> {
    Router::new()
        .route("/admin/jst/orders", get(list_orders).post(add_orders))
        .route("/admin/jst/seed", post(seed))
        .route(crate::TPLUS_VOUCHERS_PATH, get(list_vouchers))
        .route("/admin/stats", get(stats))
        .merge(crate::jst::admin_routes())
        .merge(crate::tplus::admin_routes())
}

async fn list_orders(State(store): State<Store>) -> Json<Vec<Value>> {
    Json(store.orders())
}

/// Body: a JSON array of JST outbound orders (each with an `io_id`); replaces by io_id.
async fn add_orders(
    State(store): State<Store>,
    Json(orders): Json<Vec<Value>>,
) -> (StatusCode, Json<Value>) {
    let given = orders.len();
    let stored = store.upsert_orders(orders);
    let status = if stored == given {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        Json(json!({"stored": stored, "skipped_without_io_id": given - stored})),
    )
}

/// Body: [`DemoSpec`]. Generates deterministic demo orders and stores them.
async fn seed(State(store): State<Store>, Json(spec): Json<DemoSpec>) -> Json<Value> {
    let orders = demo_orders(&spec, store.utc_offset_minutes);
    let stored = store.upsert_orders(orders);
    Json(json!({"stored": stored}))
}

async fn list_vouchers(State(store): State<Store>) -> Json<Vec<StoredVoucher>> {
    Json(store.vouchers())
}

async fn stats(State(store): State<Store>) -> Json<Stats> {
    Json(store.stats())
}
