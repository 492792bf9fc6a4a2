//! The fetcher: polls JST window by window for each sync task, publishes every outbound
//! order to JetStream, then announces the window closed, and only then advances the task's
//! cursor.
//!
//! Crash safety: the window is written to the cursor (`pending`) before it is fetched, so a
//! restart re-fetches exactly the same window. Orders are published with
//! `Nats-Msg-Id = task:window:io_id` and the close event with `task:window`, so a re-fetch
//! inside the stream's duplicate window stores nothing twice. How windows are read without
//! missing rows: `j2t_jst::paging`. Why an io_id is never published by two windows: `seen`. Rate
//! limits: `j2t_stores::KvRateLimiter`. Replicas: `lease`.

mod cursor;
mod lease;
mod seen;
mod sync;
mod windows;

use std::time::Duration;

use anyhow::Context;
use j2t_config::Config;
use j2t_jst::JstClient;
use j2t_runtime::ServiceContext;
use j2t_topology::{Topology, names};
use tokio_util::sync::CancellationToken;

pub use cursor::{CursorState, CursorStore};
pub use j2t_jst::paging::Range;
pub use windows::next_window;

use crate::lease::Lease;
use crate::sync::TaskSync;

/// Runs the fetcher until `ctx.shutdown`: stands by until it holds the app's lease, then
/// syncs every task until the lease is lost or shutdown.
pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    let cfg = ctx.config;
    // Before anything else: a mixed or demo-against-real setup must not touch any books.
    j2t_stores::refuse_mixed_setup(&cfg).await?;
    let topology = j2t_topology::open(&cfg).await?;
    j2t_topology::watch_readiness(
        &ctx.readiness,
        &ctx.shutdown,
        &topology,
        Some(cfg.jst.base_url.clone()),
    );
    let jst = jst_client(&cfg, &topology)?;
    let holder = format!(
        "{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let lease = Lease::new(
        topology.leases.clone(),
        names::fetcher_lease_key(&cfg.jst.app_key),
        holder,
        Duration::from_secs(cfg.fetcher.lease_ttl_secs),
    );
    while !ctx.shutdown.is_cancelled() {
        let Some(held) = lease.acquire(&ctx.shutdown).await? else {
            break;
        };
        if let Err(error) = jst.load_stored_tokens().await {
            tracing::warn!(%error, "could not read stored JST tokens; using the configured ones");
        }
        let tasks = cfg.fetcher.sync_tasks();
        tracing::info!(tasks = tasks.len(), "fetcher active");
        let runs = tasks.into_iter().map(|task| {
            let sync = TaskSync::new(
                task,
                &cfg.fetcher,
                cfg.jst.utc_offset_minutes,
                jst.clone(),
                &topology,
            );
            run_task(sync, &cfg, held.lost.clone())
        });
        futures::future::join_all(runs).await;
        if ctx.shutdown.is_cancelled() {
            held.release().await;
        }
    }
    Ok(())
}

/// The JST client every task shares: tokens and rate-limit schedule in NATS KV.
fn jst_client(cfg: &Config, topology: &Topology) -> anyhow::Result<JstClient> {
    j2t_stores::jst_client(cfg, topology).context("building the JST client")
}

/// Syncs one task window after window; pauses when caught up.
async fn run_task(mut sync: TaskSync, cfg: &Config, stop: CancellationToken) {
    let poll = Duration::from_secs(cfg.fetcher.poll_interval_secs);
    while !stop.is_cancelled() {
        let pause = match sync.step(&stop).await {
            Ok(Some(report)) => {
                if let Some(error) = &report.failed {
                    tracing::error!(
                        task = sync.name(),
                        window = %report.window.id(),
                        error,
                        "window dead-lettered after its last attempt; moving on"
                    );
                    continue;
                }
                tracing::info!(
                    task = sync.name(),
                    window = %report.window.id(),
                    orders = report.orders,
                    already_synced = report.already_synced,
                    dead_lettered = report.dead_lettered,
                    pages = report.pages,
                    "window synced"
                );
                continue;
            }
            Ok(None) => poll,
            Err(error) => {
                tracing::error!(
                    task = sync.name(),
                    error = format!("{error:#}"),
                    "sync step failed; retrying"
                );
                Duration::from_secs(5).min(poll)
            }
        };
        stop.run_until_cancelled(tokio::time::sleep(pause)).await;
    }
}
