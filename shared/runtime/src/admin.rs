use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
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

/// How long the admin and console servers give a client to send a request's headers, and
/// to get an answer to a request (body included). A client that stalls is disconnected
/// instead of holding a connection and its task for ever (slow loris).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub header_read: Duration,
    pub request: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// Binds `listen` and serves `app` until `shutdown`, with the default [`ServerLimits`].
/// Returns the bound address; binding errors are returned at once so a binary fails at start.
pub async fn serve(
    listen: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    serve_with(listen, app, shutdown, ServerLimits::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    listen: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
    limits: ServerLimits,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = app.layer(axum::middleware::from_fn(move |request, next: Next| {
        answer_within(limits.request, request, next)
    }));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // E.g. out of file descriptors: pause rather than spin.
                    tracing::warn!(%error, %addr, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let service = TowerToHyperService::new(app.clone());
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::pin!(connection);
                let served = tokio::select! {
                    served = connection.as_mut() => served,
                    () = shutdown.cancelled() => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(error) = served {
                    tracing::debug!(%error, "HTTP connection ended with an error");
                }
            });
        }
    });
    Ok(addr)
}

/// Answers 408 when the request is not answered within `limit`.
async fn answer_within(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "request took too long").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMITS: ServerLimits = ServerLimits {
        header_read: Duration::from_secs(1),
        request: Duration::from_secs(1),
    };

    async fn server() -> (SocketAddr, CancellationToken) {
        let shutdown = CancellationToken::new();
        let app = router(Readiness::default()).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        );
        let addr = serve_with(([127, 0, 0, 1], 0).into(), app, shutdown.clone(), LIMITS)
            .await
            .expect("binds");
        (addr, shutdown)
    }

    /// Reads until the server closes the connection; the deadline only keeps a broken
    /// build from hanging.
    async fn read_to_close(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
        let mut seen = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(60), async {
            let mut buffer = [0u8; 1024];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the server never closed the connection");
        seen
    }

    #[tokio::test]
    async fn a_slow_loris_client_is_disconnected() {
        let (addr, shutdown) = server().await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        // Headers begun, never finished.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write");
        let answer = read_to_close(&mut stream).await;
        assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
        // The server still serves everyone else.
        let ok = reqwest::get(format!("http://{addr}/healthz"))
            .await
            .expect("healthz")
            .text()
            .await
            .expect("body");
        assert_eq!(ok, "ok");
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_request_not_answered_in_time_gets_408() {
        let (addr, shutdown) = server().await;
        let answer = reqwest::get(format!("http://{addr}/slow"))
            .await
            .expect("answer");
        assert_eq!(answer.status(), reqwest::StatusCode::REQUEST_TIMEOUT);
        shutdown.cancel();
    }
}
