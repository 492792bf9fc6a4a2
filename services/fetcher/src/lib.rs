//! The fetcher: polls JST window by window, publishes every outbound order to JetStream, then
//! announces the window closed, and only then advances its cursor.
//!
//! Crash safety: the window is written to the cursor (`pending`) before it is fetched, so a
//! restart re-fetches exactly the same window. Orders are published with
//! `Nats-Msg-Id = task:window:io_id` and the close event with `task:window`, so a re-fetch
//! inside the stream's duplicate window stores nothing twice; after it, the transformer's
//! dedup by io_id and T+'s ExternalCode check keep the result single.

mod cursor;
mod sync;
mod windows;

use std::time::Duration;

use anyhow::Context;
use j2t_telemetry::ServiceContext;

pub use cursor::{CursorState, CursorStore};
pub use windows::next_window;

/// Runs the fetcher until `ctx.shutdown`.
pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    let cfg = ctx.config;
    let topology = j2t_topology::open(&cfg).await?;
    ctx.readiness.set(true);
    let jst = j2t_jst::JstClient::new(&cfg.jst).context("building the JST client")?;
    let mut fetcher = sync::Fetcher::new(&cfg, jst, topology);
    let poll = Duration::from_secs(cfg.fetcher.poll_interval_secs);
    tracing::info!(task = %cfg.fetcher.task, "fetcher running");
    while !ctx.shutdown.is_cancelled() {
        let pause = match fetcher.step(&ctx.shutdown).await {
            Ok(Some(report)) => {
                tracing::info!(window = %report.window.id(), orders = report.orders, pages = report.pages, "window synced");
                continue;
            }
            Ok(None) => poll,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "sync step failed; retrying");
                Duration::from_secs(5).min(poll)
            }
        };
        tokio::select! {
            _ = ctx.shutdown.cancelled() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
    Ok(())
}
