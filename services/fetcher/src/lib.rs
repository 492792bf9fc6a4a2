//! The fetcher: polls JST window by window for each sync task, publishes every outbound
//! order to JetStream, then announces the window closed, and only then advances the task's
//! cursor.
//!
//! Crash safety: the window is written to the cursor (`pending`) before it is fetched, so a
//! restart re-fetches exactly the same window. Orders are published with
//! `Nats-Msg-Id = task:window:io_id` and the close event with `task:window`, so a re-fetch
//! inside the stream's duplicate window stores nothing twice. How windows are read without
//! missing rows: `j2t_jst::paging`. Why an io_id is never published by two windows: `seen`. Rate
//! limits: `j2t_stores::KvRateLimiter`. Replicas: `lease`. Orders that show up after their
//! window was read: `recheck`.

pub mod backfill;
mod changes;
mod cursor;
mod lease;
mod progress;
mod recheck;
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
pub use recheck::{Gate, RecheckState, ResyncSummary};
pub use sync::{TaskSync, WindowReport};
pub use windows::next_window;

use crate::lease::Lease;

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
        let share = Gate::share_limiter(&cfg, &topology);
        // The change scan takes the same spare budget as the re-check, per task.
        let mut scan_gates = std::collections::BTreeMap::new();
        let runs: Vec<_> = tasks
            .into_iter()
            .map(|task| {
                let (idle_tx, idle_rx) = tokio::sync::watch::channel(false);
                scan_gates.insert(
                    task.name.clone(),
                    Gate::new(share.clone(), Some(idle_rx.clone())),
                );
                let build = |task| {
                    TaskSync::new(
                        task,
                        &cfg.fetcher,
                        cfg.jst.utc_offset_minutes,
                        jst.clone(),
                        &topology,
                    )
                };
                let live = build(task.clone());
                let recheck =
                    build(task).with_recheck_gate(Gate::new(share.clone(), Some(idle_rx)));
                let stop = held.lost.clone();
                let cfg = &cfg;
                async move {
                    futures::join!(
                        run_task(live, cfg, stop.clone(), idle_tx),
                        run_recheck(recheck, cfg, stop)
                    );
                }
            })
            .collect();
        // The change scan runs beside the tasks while the lease is held.
        let scan = changes::scan_loop(&cfg, jst.clone(), &topology, scan_gates, held.lost.clone());
        futures::future::join(futures::future::join_all(runs), scan).await;
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

/// Syncs one task window after window; pauses when caught up, and says so on `idle` (the
/// re-check reads only then).
async fn run_task(
    mut sync: TaskSync,
    cfg: &Config,
    stop: CancellationToken,
    idle: tokio::sync::watch::Sender<bool>,
) {
    let poll = Duration::from_secs(cfg.fetcher.poll_interval_secs);
    while !stop.is_cancelled() {
        idle.send_replace(false);
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
                if !report.reached_horizon {
                    continue;
                }
                poll
            }
            Ok(None) => poll,
            Err(error) => {
                tracing::error!(
                    task = sync.name(),
                    error = format!("{error:#}"),
                    "sync step failed; retrying"
                );
                stop.run_until_cancelled(tokio::time::sleep(Duration::from_secs(5).min(poll)))
                    .await;
                continue;
            }
        };
        // Caught up: the re-check may read until the next poll.
        idle.send_replace(true);
        stop.run_until_cancelled(tokio::time::sleep(pause)).await;
    }
}

/// Re-checks one task's recent past window after window while passes are due (each read
/// waits at the gate); looks again every poll interval otherwise.
async fn run_recheck(sync: TaskSync, cfg: &Config, stop: CancellationToken) {
    if cfg.fetcher.recheck_days == 0 {
        return;
    }
    let poll = Duration::from_secs(cfg.fetcher.poll_interval_secs.max(1));
    while !stop.is_cancelled() {
        let pause = match sync.recheck_step(&stop).await {
            Ok(Some(report)) => {
                tracing::info!(
                    task = sync.name(),
                    window = %report.window.id(),
                    late_orders = report.orders,
                    already_synced = report.already_synced,
                    pages = report.pages,
                    "window re-checked"
                );
                continue;
            }
            Ok(None) => poll,
            Err(error) => {
                tracing::warn!(
                    task = sync.name(),
                    error = format!("{error:#}"),
                    "re-check step failed; trying again later"
                );
                poll.max(Duration::from_secs(5))
            }
        };
        stop.run_until_cancelled(tokio::time::sleep(pause)).await;
    }
}
