//! The operator console: one web page showing the pipeline as a flow, the daily reconcile's
//! last result per date (Books), the sync cursors,
//! recent vouchers with their orders and the dead letters (inspect, replay), and the JSON
//! API it polls. The page itself is public (it holds no data); every `/api` call needs the
//! configured token. An empty `monitor.console_token` turns the console off.

mod api;
mod auth;
mod books;
mod page;
mod results;

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use j2t_config::{Config, ExposeSecret, SecretString};
use j2t_topology::Topology;
use tokio_util::sync::CancellationToken;

pub async fn run(
    topology: Arc<Topology>,
    cfg: Arc<Config>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let token = cfg.monitor.console_token.clone();
    if token.expose_secret().trim().is_empty() {
        tracing::info!("operator console off: monitor.console_token is empty");
        shutdown.cancelled().await;
        return Ok(());
    }
    let books = books::Settings {
        enabled: cfg.monitor.reconcile_enabled,
        at: cfg.monitor.reconcile_at.format("%H:%M").to_string(),
        days: cfg.monitor.reconcile_days,
    };
    let api = api::router(Arc::new(api::Api::new(
        topology,
        cfg.jst.utc_offset_minutes,
        books,
    )));
    let listen = cfg.monitor.console_listen;
    let addr = j2t_runtime::serve(listen, app(api, token), shutdown.clone())
        .await
        .with_context(|| format!("monitor.console_listen {listen}"))?;
    j2t_runtime::announce_listening("console", addr);
    tracing::info!(%addr, "operator console listening");
    shutdown.cancelled().await;
    Ok(())
}

/// The page at `/` and `api` under `/api`, behind the token check.
fn app(api: Router, token: SecretString) -> Router {
    let token = Arc::new(auth::Token::new(token));
    let api = api.layer(axum::middleware::from_fn_with_state(token, auth::require));
    page::router().nest("/api", api)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use reqwest::StatusCode;

    /// Serves `app` with a stand-in API on a free port.
    async fn serve(shutdown: &CancellationToken) -> String {
        let api = Router::new().route("/status", get(|| async { "fine" }));
        let app = app(api, SecretString::from("tok-123"));
        let addr = j2t_runtime::serve(([127, 0, 0, 1], 0).into(), app, shutdown.clone())
            .await
            .expect("binds");
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn the_api_needs_the_token_and_the_page_does_not() {
        let shutdown = CancellationToken::new();
        let base = serve(&shutdown).await;
        let http = reqwest::Client::new();
        let status = format!("{base}/api/status");

        let anonymous = http.get(&status).send().await.expect("answers");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let wrong = http
            .get(&status)
            .bearer_auth("tok-12")
            .send()
            .await
            .expect("answers");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let right = http
            .get(&status)
            .bearer_auth("tok-123")
            .send()
            .await
            .expect("answers");
        assert_eq!(right.status(), StatusCode::OK);
        assert_eq!(right.text().await.expect("body"), "fine");

        let page = http.get(&base).send().await.expect("answers");
        assert_eq!(page.status(), StatusCode::OK);
        let policy = page.headers()["content-security-policy"]
            .to_str()
            .expect("ascii");
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(page.text().await.expect("body").contains("console.js"));
        for asset in ["console.js", "console.css"] {
            let got = http
                .get(format!("{base}/{asset}"))
                .send()
                .await
                .expect("answers");
            assert_eq!(got.status(), StatusCode::OK, "{asset}");
        }
        shutdown.cancel();
    }
}
