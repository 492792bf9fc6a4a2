//! The transformer: for each closed window, reads the window's raw orders, merges and maps
//! them (`j2t-mapping`), publishes the vouchers and dead-letters the orders it cannot use.
//!
//! A window is a merge scope: the fetcher closes it only after all its orders are stored, so
//! every merge group in it is complete. Replicas share one durable consumer on the window
//! events; a window redelivered after a crash is merged again into byte-identical vouchers
//! with the same `Nats-Msg-Id` (= ExternalCode), so nothing is emitted twice. Each merged
//! io_id is claimed for its voucher in the lineage bucket before the voucher is published, so
//! an order that reaches two windows is merged once (and `whereis` can find it).
//!
//! Before merging, each order's warehouse and inventory codes are checked against a cached
//! copy of T+'s master data (`master_data`, `screen`): orders naming a code T+ lacks are held
//! as dead letters (`unknown_inventory` / `unknown_warehouse`) and the rest is merged.

mod corrections;
mod lines;
pub mod master_data;
mod plan;
mod screen;
mod tplus_source;
mod window;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::AckKind;
use j2t_domain::DeadLetterReason;
use j2t_mapping::Mapping;
use j2t_runtime::ServiceContext;
use tracing::Instrument;

pub use plan::{WindowOrders, WindowOutcome, WindowPlan, plan_window};
pub use screen::{Screened, Screening, screen};
pub use window::{Check, process_window, window_orders};

/// The configured mapping: `transformer.mapping_file`, or the built-in one.
pub fn load_mapping(cfg: &j2t_config::Config) -> anyhow::Result<Mapping> {
    match &cfg.transformer.mapping_file {
        None => Ok(Mapping::builtin()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("transformer.mapping_file: reading {}", path.display()))?;
            Mapping::from_toml(&text)
                .with_context(|| format!("transformer.mapping_file {}", path.display()))
        }
    }
}

pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    let cfg = ctx.config;
    // Before anything else: a mixed or demo-against-real setup must not touch any books.
    j2t_stores::refuse_mixed_setup(&cfg).await?;
    let mapping = Arc::new(load_mapping(&cfg)?);
    let topology = j2t_topology::open(&cfg).await?;
    // Fails at start, not in the consume loop, when the consumer is missing.
    topology.transformer_consumer().await?;
    j2t_topology::watch_readiness(&ctx.readiness, &ctx.shutdown, &topology, None);
    tracing::info!("transformer running");
    let js = &topology.js;
    let lineage = &j2t_stores::Lineage::new(&topology);
    let written = &j2t_stores::WrittenOrders::new(&topology);
    let max_deliver = cfg.transformer.max_deliver;
    let max_orders = cfg.transformer.max_window_orders;
    let paths = &master_data::CodePaths::of(&mapping);
    let master = if cfg.transformer.check_master_data {
        let client = j2t_stores::tplus_client(&cfg, &topology)
            .context("building the T+ client for master data")?;
        if let Err(error) = client.load_stored_tokens().await {
            tracing::warn!(%error, "could not read stored T+ tokens; using the configured ones");
        }
        let master = master_data::MasterData::new(
            Box::new(tplus_source::TplusSource(client)),
            Duration::from_secs(cfg.transformer.master_data_miss_refresh_secs),
        );
        tokio::spawn(master.clone().run_schedule(
            Duration::from_secs(cfg.transformer.master_data_refresh_secs),
            ctx.shutdown.clone(),
        ));
        Some(master)
    } else {
        tracing::info!("master data check off (transformer.check_master_data = false)");
        None
    };
    let check = master.as_ref().map(|master| Check { master, paths });
    let check = &check;
    let corrections = corrections::Corrections {
        js,
        written,
        mapping: &mapping,
        policy: cfg.corrections.policy,
        shipped: &cfg
            .fetcher
            .sync_tasks()
            .into_iter()
            .map(|t| (t.name, t.statuses))
            .collect(),
    };
    let corrections_run = corrections::run(&topology, &corrections, &ctx.shutdown);
    let windows_run = j2t_topology::consume(
        || topology.transformer_consumer(),
        1,
        &ctx.shutdown,
        |msg| {
            let mapping = mapping.clone();
            async move {
                let (seq, delivered) = msg
                    .info()
                    .map(|i| (i.stream_sequence, i.delivered))
                    .unwrap_or_default();
                let span = tracing::info_span!("merge window", seq);
                match process_window(
                    js,
                    lineage,
                    written,
                    &mapping,
                    &msg.payload,
                    seq,
                    max_orders,
                    check.as_ref(),
                )
                .instrument(span)
                .await
                {
                    Ok(outcome) => {
                        metrics::counter!("j2t_transformer_windows_total").increment(1);
                        metrics::counter!("j2t_transformer_orders_total")
                            .increment(outcome.orders as u64);
                        metrics::counter!("j2t_transformer_vouchers_total")
                            .increment(outcome.vouchers as u64);
                        metrics::counter!("j2t_transformer_rejected_total")
                            .increment(outcome.rejected as u64);
                        metrics::counter!("j2t_transformer_held_total")
                            .increment(outcome.held as u64);
                        metrics::counter!("j2t_transformer_skipped_total", "what" => "order")
                            .increment(outcome.skipped_orders as u64);
                        metrics::counter!("j2t_transformer_skipped_total", "what" => "line")
                            .increment(outcome.skipped_lines as u64);
                        tracing::info!(
                            window = %outcome.window,
                            orders = outcome.orders,
                            vouchers = outcome.vouchers,
                            rejected = outcome.rejected,
                            already_merged = outcome.already_merged,
                            held = outcome.held,
                            skipped_orders = outcome.skipped_orders,
                            skipped_lines = outcome.skipped_lines,
                            "window merged"
                        );
                        if let Err(error) = msg.double_ack().await {
                            tracing::warn!(%error, "ack of window lost; it will be merged again (idempotent)");
                        }
                    }
                    Err(error) if delivered >= max_deliver => {
                        // Still failing: park the event (replayable) so later windows go on.
                        let payload = serde_json::from_slice(&msg.payload)
                            .unwrap_or_else(|_| plan::raw(&msg.payload));
                        let mut letter = plan::dead_letter(
                            DeadLetterReason::WindowFailed,
                            format!("window failed {delivered} times: {error:#}"),
                            msg.subject.as_str(),
                            payload,
                        );
                        letter.attempts = delivered as u64;
                        let msg_id = format!("window_failed:{seq}");
                        match j2t_stores::publish_dead_letter(js, &letter, &msg_id).await {
                            Ok(_) => {
                                let _ = msg.ack_with(AckKind::Term).await;
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "could not dead-letter the window; redelivering");
                                let _ = msg
                                    .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                                    .await;
                            }
                        }
                    }
                    Err(error) => {
                        tracing::error!(
                            error = format!("{error:#}"),
                            delivered,
                            max_deliver,
                            "window failed; redelivering"
                        );
                        let _ = msg
                            .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                            .await;
                    }
                }
            }
        },
    );
    futures::future::join(windows_run, corrections_run).await;
    Ok(())
}
