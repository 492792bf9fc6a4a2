//! The writer: posts vouchers to T+ and decides, per answer, between ack (T+ has it), NAK with
//! a delay (try again later) and dead letter (T+ will not take it as it is). Replicas share
//! one durable consumer; the ExternalCode makes every retry harmless.

mod audit;
mod breaker;
mod confirm;
mod decide;
mod handle;
mod post;
mod written;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use j2t_runtime::ServiceContext;
use j2t_stores::AttemptLog;
use j2t_tplus::{Rules, VoucherIndex};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

pub use breaker::{Breaker, Health, SharedBreaker, Turn};
pub use decide::{Action, Delivery, Lookup, decide, nak_delay};
pub use post::post_with_quick_retries;

use crate::handle::Writer;

pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    let cfg = ctx.config;
    // Before anything else: a mixed or demo-against-real setup must not touch any books.
    j2t_stores::refuse_mixed_setup(&cfg).await?;
    let topology = j2t_topology::open(&cfg).await?;
    // Fails at start, not in the consume loop, when the consumer is missing.
    topology.writer_consumer().await?;
    let tplus = j2t_stores::tplus_client(&cfg, &topology).context("building the T+ client")?;
    if let Err(error) = tplus.load_stored_tokens().await {
        tracing::warn!(%error, "could not read stored T+ tokens; using the configured ones");
    }
    // A probe that has not answered after two client timeouts is taken as lost.
    let breaker = Breaker::new(
        cfg.writer.outage_after_failures,
        Duration::from_secs(cfg.writer.outage_probe_secs),
        Duration::from_secs(cfg.tplus.timeout_secs.saturating_mul(2).max(1)),
    );
    let writer = Arc::new(Writer {
        breaker: SharedBreaker::new(breaker),
        permits: Semaphore::new(cfg.writer.concurrency),
        tasks: TaskTracker::new(),
        js: topology.js.clone(),
        attempts: AttemptLog::new(topology.attempts.clone()),
        lineage: j2t_stores::Lineage::new(&topology),
        signals: topology.signals.clone(),
        auth_failing: Default::default(),
        index: VoucherIndex::new(tplus.clone(), &cfg.tplus),
        tplus,
        rules: Rules::from_config(&cfg.tplus),
        already_audited: cfg.tplus.already_audited_message_contains.clone(),
        cfg: cfg.writer.clone(),
        shutdown: ctx.shutdown.clone(),
    });
    j2t_topology::watch_readiness(
        &ctx.readiness,
        &ctx.shutdown,
        &topology,
        Some(cfg.tplus.base_url.clone()),
    );
    metrics::gauge!("j2t_writer_tplus_down").set(0.0);
    metrics::gauge!("j2t_writer_held_vouchers").set(0.0);
    tracing::info!(concurrency = writer.cfg.concurrency, "writer running");
    j2t_topology::consume(
        || topology.writer_consumer(),
        writer.cfg.concurrency,
        &ctx.shutdown,
        |msg| writer.handle(msg),
    )
    .await;
    // Held vouchers stop waiting at shutdown and are left unacked.
    writer.tasks.close();
    writer.tasks.wait().await;
    Ok(())
}
