//! Jushuitan and T+ simulators in one process, for tests, benchmarks and the demo. They speak
//! the documented protocols over real HTTP (signatures, tokens and their refresh, paging,
//! rate limits, error codes, master data, duplicate ExternalCode) and keep their data in
//! memory. Both sides inject faults set through the admin API: JST throttling, 502s,
//! latency, token expiry and data drift while a client pages, orders committed late (visible
//! only from a given instant) and orders moved to another state or edited after shipping; T+ 503s, 409 throttling,
//! timeouts after commit, latency, an exhausted quota and token expiry; T+ answer knobs
//! (duplicate reply, closed period, voucher list shape) and voucher deletion. Each API has its own
//! port; the admin API (seed orders, list vouchers, master data, faults, stats) is served on
//! both.

mod admin;
mod admin_client;
mod demo_data;
mod jst;
mod orders;
mod random;
mod state;
mod tokens;
mod tplus;

use std::net::SocketAddr;

use j2t_config::Config;
use tokio_util::sync::CancellationToken;

pub use admin_client::AdminClient;
pub use demo_data::{DemoSpec, demo_orders, jst_today};
pub use jst::{
    DriftEvent, DriftKind, EXPIRE_TOKEN_PATH, EXPIRES_IN_SECS, FAULTS_PATH, INIT_TOKEN_PATH,
    JstFaults, LATE_ORDERS_PATH, LateOrders, ORDERS_PATH, OrderChange, REFRESH_TOKEN_PATH,
    TOKENS_PATH,
};
pub use state::{Stats, Store};
pub use tokens::NewPair;
pub use tplus::{
    ClosedPeriod, DEFAULT_TIMEOUT_AFTER_COMMIT_MS, ListShape, MasterData,
    OPEN_TOKEN_EXPIRES_IN_SECS, REFRESH_EXPIRES_IN_SECS, Reply, TPLUS_CLOSED_PERIOD_PATH,
    TPLUS_DUPLICATE_REPLY_PATH, TPLUS_EXPIRE_TOKEN_PATH, TPLUS_FAULTS_PATH, TPLUS_INVENTORIES_PATH,
    TPLUS_MASTER_DATA_PATH, TPLUS_REFRESH_TOKEN_PATH, TPLUS_TOKENS_PATH, TPLUS_VOUCHER_LIST_PATH,
    TPLUS_VOUCHERS_PATH, TPLUS_WAREHOUSES_PATH, TplusFaults, VoucherListKnobs,
};

/// Addresses the simulator is listening on.
#[derive(Debug, Clone, Copy)]
pub struct Running {
    pub jst: SocketAddr,
    pub tplus: SocketAddr,
}

/// Every answer says it comes from the simulator (header `x-j2t-simulator`), and the
/// marker path answers too: the services refuse to mix it with a real API.
fn marked(router: axum::Router) -> axum::Router {
    use j2t_upstream::books_guard::{SIMULATOR_HEADER, SIMULATOR_MARK, SIMULATOR_MARKER_PATH};
    router
        .route(
            SIMULATOR_MARKER_PATH,
            axum::routing::get(|| async {
                axum::Json(serde_json::json!({ "simulator": SIMULATOR_MARK }))
            }),
        )
        .layer(axum::middleware::map_response(
            |mut response: axum::response::Response| async move {
                response.headers_mut().insert(
                    SIMULATOR_HEADER,
                    axum::http::HeaderValue::from_static(SIMULATOR_MARK),
                );
                response
            },
        ))
}

/// Binds both ports (port 0 picks free ones), seeds the demo data configured in
/// `simulator.demo_*`, and serves until `shutdown`.
pub async fn start(cfg: &Config, shutdown: CancellationToken) -> std::io::Result<Running> {
    let store = Store::new(cfg);
    if cfg.simulator.demo_orders > 0 {
        let spec = DemoSpec {
            orders: cfg.simulator.demo_orders,
            days: cfg.simulator.demo_days.max(1),
            seed: cfg.simulator.demo_seed,
            end_date: None,
        };
        let orders = demo_orders(&spec, cfg.jst.utc_offset_minutes);
        tracing::info!(orders = orders.len(), "seeded demo orders");
        store.upsert_orders(orders);
    }
    let jst = j2t_runtime::serve(
        cfg.simulator.jst_listen,
        marked(
            jst::routes()
                .merge(admin::routes())
                .with_state(store.clone()),
        ),
        shutdown.clone(),
    )
    .await?;
    let tplus = j2t_runtime::serve(
        cfg.simulator.tplus_listen,
        marked(tplus::routes().merge(admin::routes()).with_state(store)),
        shutdown,
    )
    .await?;
    Ok(Running { jst, tplus })
}
