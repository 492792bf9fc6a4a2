use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::Readiness;

fn router(readiness: Readiness) -> Router {
    let metrics = crate::metrics_handle();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(move || async move { metrics.render() }))
        .route(
            "/readyz",
            get(move || {
                let state = readiness.state();
                async move {
                    match state {
                        Ok(()) => (StatusCode::OK, "ready".to_string()),
                        Err(reason) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("not ready: {reason}"),
                        ),
                    }
                }
            }),
        )
}

/// Binds `listen` (port 0 picks a free one) and serves the admin endpoint (`/healthz`,
/// `/readyz`, `/metrics`) until `shutdown`.
pub async fn serve_admin(
    listen: SocketAddr,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    serve(listen, router(readiness), shutdown).await
}

/// Names a file to which each listener's bound address is appended as a line `<what> <addr>`,
/// so a parent process (the tests) can bind port 0 and read back the port it got.
pub const LISTEN_FILE_ENV: &str = "J2T_LISTEN_FILE";

/// Appends `<what> <addr>` to the file named by [`LISTEN_FILE_ENV`], if set.
pub fn announce_listening(what: &str, addr: SocketAddr) {
    use std::io::Write;
    let Some(path) = std::env::var_os(LISTEN_FILE_ENV) else {
        return;
    };
    let line = format!("{what} {addr}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(error) = written {
        tracing::warn!(%error, path = %path.display(), "cannot write the listen file");
    }
}

/// Binds `listen` and serves `app` until `shutdown`. Returns the bound address; binding
/// errors are returned at once so a binary fails at start.
pub async fn serve(
    listen: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, %addr, "HTTP listener stopped");
        }
    });
    Ok(addr)
}
