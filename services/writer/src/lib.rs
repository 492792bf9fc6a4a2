//! The writer: posts vouchers to T+ and decides, per answer, between ack (T+ has it), NAK with
//! a delay (try again later) and dead letter (T+ will not take it as it is). Replicas share
//! one durable consumer; the ExternalCode makes every retry harmless.

mod handle;
mod post;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use j2t_config::{Config, WriterConfig};
use j2t_telemetry::ServiceContext;
use j2t_topology::{AttemptLog, KvRateGate, KvTokenStore, Topology, names};
use j2t_tplus::{DuplicateRule, TplusClient};

pub use post::post_with_quick_retries;

use crate::handle::Writer;

pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    let cfg = ctx.config;
    let topology = j2t_topology::open(&cfg).await?;
    let consumer = topology.writer_consumer().await?;
    let tplus = tplus_client(&cfg, &topology)?;
    if let Err(error) = tplus.load_stored_tokens().await {
        tracing::warn!(%error, "could not read stored T+ tokens; using the configured ones");
    }
    let writer = Writer {
        js: topology.js.clone(),
        attempts: AttemptLog::new(topology.attempts.clone()),
        lineage: j2t_topology::Lineage::new(&topology),
        signals: topology.signals.clone(),
        auth_failing: Default::default(),
        tplus,
        duplicate: DuplicateRule {
            code: cfg.tplus.duplicate_code.clone(),
            message_contains: cfg.tplus.duplicate_message_contains.clone(),
        },
        cfg: cfg.writer.clone(),
        shutdown: ctx.shutdown.clone(),
    };
    j2t_topology::watch_readiness(
        &ctx.readiness,
        &ctx.shutdown,
        &topology,
        Some(cfg.tplus.base_url.clone()),
    );
    tracing::info!(concurrency = writer.cfg.concurrency, "writer running");
    j2t_topology::consume(&consumer, writer.cfg.concurrency, &ctx.shutdown, |msg| {
        writer.handle(msg)
    })
    .await;
    Ok(())
}

/// The T+ client every replica builds alike: tokens in NATS KV, optional shared rate limit.
fn tplus_client(cfg: &Config, topology: &Topology) -> anyhow::Result<TplusClient> {
    let store = KvTokenStore::new(
        topology.tokens.clone(),
        names::tplus_tokens_key(&cfg.tplus.app_key),
    );
    let per_second = cfg.tplus.requests_per_second;
    let gate = (per_second > 0).then(|| {
        Arc::new(KvRateGate::new(
            topology.rate.clone(),
            names::tplus_rate_key(&cfg.tplus.app_key),
            per_second,
            per_second.saturating_mul(60),
        )) as Arc<dyn j2t_access::RequestGate>
    });
    TplusClient::with_parts(&cfg.tplus, Some(Arc::new(store)), gate)
        .context("building the T+ client")
}

/// NAK delay for the `delivered`-th delivery: exponential, capped.
pub fn nak_delay(cfg: &WriterConfig, delivered: i64) -> Duration {
    let exponent = (delivered.max(1) - 1).min(20) as u32;
    let secs = cfg.retry_base_secs.saturating_mul(1 << exponent);
    Duration::from_secs(secs.min(cfg.max_retry_delay_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nak_delay_grows_and_is_capped() {
        let cfg = WriterConfig {
            concurrency: 1,
            max_deliver: 8,
            ack_wait_secs: 60,
            quick_retries: 2,
            retry_base_secs: 2,
            max_retry_delay_secs: 30,
            quota_pause_secs: 60,
        };
        let secs: Vec<u64> = (1..=6).map(|d| nak_delay(&cfg, d).as_secs()).collect();
        assert_eq!(secs, vec![2, 4, 8, 16, 30, 30]);
    }
}
