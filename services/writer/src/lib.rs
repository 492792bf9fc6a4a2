//! The writer: posts vouchers to T+ and decides, per answer, between ack (T+ has it), NAK with
//! a delay (try again later) and dead letter (T+ will not take it as it is). Replicas share
//! one durable consumer; the ExternalCode makes every retry harmless.

mod post;

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, AckKind, Message};
use chrono::Utc;
use j2t_config::WriterConfig;
use j2t_domain::{DeadLetter, Stage, VoucherEnvelope, WriteOutcome, WriteResult};
use j2t_telemetry::ServiceContext;
use j2t_topology::names;
use j2t_tplus::{DuplicateRule, Outcome, TplusClient};

pub use post::post_with_quick_retries;

struct Writer {
    js: jetstream::Context,
    tplus: TplusClient,
    duplicate: DuplicateRule,
    cfg: WriterConfig,
}

pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    let cfg = ctx.config;
    let topology = j2t_topology::open(&cfg).await?;
    let consumer = topology.writer_consumer().await?;
    let writer = Writer {
        js: topology.js.clone(),
        tplus: TplusClient::new(&cfg.tplus).context("building the T+ client")?,
        duplicate: DuplicateRule {
            code: cfg.tplus.duplicate_code.clone(),
            message_contains: cfg.tplus.duplicate_message_contains.clone(),
        },
        cfg: cfg.writer.clone(),
    };
    ctx.readiness.set(true);
    tracing::info!(concurrency = writer.cfg.concurrency, "writer running");
    j2t_topology::consume(&consumer, writer.cfg.concurrency, &ctx.shutdown, |msg| {
        writer.handle(msg)
    })
    .await;
    Ok(())
}

/// NAK delay for the `delivered`-th delivery: exponential, capped.
pub fn nak_delay(cfg: &WriterConfig, delivered: i64) -> Duration {
    let exponent = (delivered.max(1) - 1).min(20) as u32;
    let secs = cfg.retry_base_secs.saturating_mul(1 << exponent);
    Duration::from_secs(secs.min(cfg.max_retry_delay_secs))
}

impl Writer {
    async fn handle(&self, msg: Message) {
        if let Err(error) = self.try_handle(&msg).await {
            // NATS trouble while recording the outcome: leave the message unacked, it comes
            // back after ack_wait and the ExternalCode check makes the repeat harmless.
            tracing::error!(error = format!("{error:#}"), "voucher handling failed");
        }
    }

    async fn try_handle(&self, msg: &Message) -> anyhow::Result<()> {
        let info = msg
            .info()
            .map_err(|e| anyhow::anyhow!("message info: {e}"))?;
        let (delivered, seq) = (info.delivered, info.stream_sequence);
        let envelope: VoucherEnvelope = match serde_json::from_slice(&msg.payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                let payload = String::from_utf8_lossy(&msg.payload).into_owned().into();
                return self
                    .dead_letter(
                        msg,
                        seq,
                        "bad_payload",
                        error.to_string(),
                        delivered,
                        payload,
                    )
                    .await;
            }
        };
        let code = envelope.external_code.clone();
        let (outcome, calls) = post_with_quick_retries(
            &self.tplus,
            &self.duplicate,
            &envelope.payload,
            self.cfg.quick_retries,
        )
        .await;
        let written = |outcome, response| WriteResult {
            external_code: code.clone(),
            outcome,
            io_ids: envelope.io_ids.clone(),
            response,
            attempts: delivered as u64,
            written_at: Utc::now(),
        };
        let result = match outcome {
            Outcome::Created(body) => written(WriteOutcome::Created, body),
            Outcome::AlreadyExists(body) => written(WriteOutcome::AlreadyExists, body),
            Outcome::Permanent(reason) => {
                tracing::warn!(external_code = %code, %reason, "T+ rejected voucher; dead-lettering");
                let payload = serde_json::to_value(&envelope)?;
                return self
                    .dead_letter(msg, seq, "rejected", reason, delivered, payload)
                    .await;
            }
            Outcome::Transient { reason, .. }
            | Outcome::AuthExpired(reason)
            | Outcome::QuotaExhausted(reason) => {
                if delivered >= self.cfg.max_deliver {
                    let payload = serde_json::to_value(&envelope)?;
                    let error = format!(
                        "{delivered} deliveries ({calls} calls in the last); last error: {reason}"
                    );
                    return self
                        .dead_letter(msg, seq, "retries_exhausted", error, delivered, payload)
                        .await;
                }
                let delay = nak_delay(&self.cfg, delivered);
                tracing::warn!(external_code = %code, %reason, delivered, ?delay, "T+ write failed; will retry");
                msg.ack_with(AckKind::Nak(Some(delay)))
                    .await
                    .map_err(|e| anyhow::anyhow!("nak: {e}"))?;
                return Ok(());
            }
        };
        let subject = names::results_subject(match result.outcome {
            WriteOutcome::Created => "created",
            WriteOutcome::AlreadyExists => "already_exists",
        });
        j2t_topology::publish_json(&self.js, &subject, &format!("result:{code}"), &result).await?;
        msg.double_ack()
            .await
            .map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        tracing::info!(external_code = %code, outcome = ?result.outcome, "voucher written");
        Ok(())
    }

    /// Stores the dead letter, then TERMs the message (TERM stops redelivery).
    async fn dead_letter(
        &self,
        msg: &Message,
        seq: u64,
        reason: &str,
        error: String,
        delivered: i64,
        payload: serde_json::Value,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let letter = DeadLetter {
            stage: Stage::Writer,
            reason: reason.into(),
            error,
            original_subject: msg.subject.to_string(),
            attempts: delivered as u64,
            first_failure: now,
            last_failure: now,
            payload,
        };
        j2t_topology::publish_dead_letter(&self.js, &letter, &format!("writer:{seq}")).await?;
        msg.double_ack_with(AckKind::Term)
            .await
            .map_err(|e| anyhow::anyhow!("term: {e}"))?;
        Ok(())
    }
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
        };
        let secs: Vec<u64> = (1..=6).map(|d| nak_delay(&cfg, d).as_secs()).collect();
        assert_eq!(secs, vec![2, 4, 8, 16, 30, 30]);
    }
}
