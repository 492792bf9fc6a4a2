//! Finishing a voucher T+ has: the optional audit (policy in `audit`), then the result
//! recorded in `J2T_RESULTS` (with the dead letter of a failed audit) and the ack.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::Message;
use chrono::Utc;
use j2t_domain::{DeadLetter, DeadLetterReason, VoucherEnvelope, WriteOutcome, WriteResult};
use j2t_topology::names;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::audit::{self, Step};
use crate::handle::{Failure, HeldGauge, Writer};

/// The message of a voucher T+ has, and where it stands.
pub(crate) struct Written<'a> {
    pub msg: &'a Message,
    pub seq: u64,
    pub delivered: i64,
    pub envelope: &'a VoucherEnvelope,
}

impl Writer {
    /// T+ has the voucher: audit it when configured, then record the result (and the dead
    /// letter of a failed audit) and ack.
    pub(crate) async fn ack_written(
        &self,
        written: Written<'_>,
        outcome: WriteOutcome,
        response: Value,
        held: &mut Option<HeldGauge>,
        release: &mut Option<oneshot::Sender<()>>,
    ) -> anyhow::Result<()> {
        let Written {
            msg,
            seq,
            delivered,
            envelope,
        } = written;
        let code = envelope.external_code.as_str();
        let audited = if self.cfg.audit {
            let Some(audited) = self.audit(code, &response, held, release).await? else {
                // Left unacked: redelivered, found as written, audited then.
                return Ok(());
            };
            Some(audited)
        } else {
            None
        };
        let result = WriteResult {
            external_code: code.to_string(),
            outcome,
            io_ids: envelope.io_ids.clone(),
            response,
            attempts: delivered as u64,
            written_at: Utc::now(),
        };
        let (audit_failure, detail) = match audited {
            None => (None, String::new()),
            Some(Ok(())) => (None, "audited".to_string()),
            Some(Err(why)) => {
                let detail = format!("audit failed: {why}");
                let failure = Failure {
                    reason: DeadLetterReason::AuditFailed,
                    error: why,
                    history: Vec::new(),
                };
                let payload = serde_json::to_value(envelope)?;
                let letter = self.letter(msg, failure, delivered, payload);
                (Some(letter), detail)
            }
        };
        self.written(msg, seq, result, audit_failure, detail).await
    }

    /// T+ has the voucher: record the result (and the dead letter of a failed audit), ack,
    /// settle.
    async fn written(
        &self,
        msg: &Message,
        seq: u64,
        result: WriteResult,
        audit_failure: Option<DeadLetter>,
        detail: String,
    ) -> anyhow::Result<()> {
        let code = result.external_code.as_str();
        if self.auth_failing.swap(false, Ordering::Relaxed) {
            self.signal(|s| {
                s.auth_failures = 0;
                s.refresh_refused.remove("tplus");
            })
            .await;
        }
        let outcome = result.outcome.as_str();
        j2t_topology::publish_json(
            &self.js,
            &names::results_subject(outcome),
            &format!("result:{code}"),
            &result,
        )
        .await?;
        if let Some(letter) = &audit_failure {
            // Before the ack: a crash in between redelivers the voucher, which is then found
            // as written and audited again.
            j2t_stores::publish_dead_letter(&self.js, letter, &format!("writer-audit:{seq}"))
                .await?;
            tracing::warn!(external_code = code, error = %letter.error, "audit failed; dead-lettered as audit_failed");
        }
        msg.double_ack()
            .await
            .map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        metrics::counter!("j2t_writer_vouchers_total", "outcome" => outcome).increment(1);
        tracing::info!(external_code = code, outcome, "voucher written");
        self.settled(code, outcome, detail).await;
        Ok(())
    }

    /// Audits the voucher T+ has (`writer.audit`): finds its id (from the lookup that
    /// confirmed it, else the index), then calls Audit, each try under a permit and a
    /// breaker turn, at most `1 + quick_retries` failed tries. `Err(why)` when it failed;
    /// `None` at shutdown.
    async fn audit(
        &self,
        code: &str,
        response: &Value,
        held: &mut Option<HeldGauge>,
        release: &mut Option<oneshot::Sender<()>>,
    ) -> anyhow::Result<Option<Result<(), String>>> {
        let max_tries = 1 + self.cfg.quick_retries;
        let mut id = audit::known_id(response);
        let mut failures = 0;
        loop {
            let Some((permit, _turn)) = self.gate(code, held, release).await? else {
                return Ok(None);
            };
            let step = match &id {
                None => {
                    let (lookup, health) = crate::confirm::interpret(self.index.lookup(code).await);
                    self.observe(health);
                    audit::after_lookup(lookup)
                }
                Some(id) => {
                    let answer = self.tplus.audit_voucher(id).await;
                    let (step, health) = audit::after_audit(answer, &self.already_audited);
                    self.observe(health);
                    step
                }
            };
            drop(permit);
            let step = match step {
                Step::Again(why) => {
                    failures += 1;
                    audit::bounded(Step::Again(why), failures, max_tries)
                }
                other => other,
            };
            match step {
                Step::Audit(found) => id = Some(found),
                Step::Done => {
                    metrics::counter!("j2t_writer_audits_total", "result" => "audited")
                        .increment(1);
                    return Ok(Some(Ok(())));
                }
                Step::Failed(why) => {
                    metrics::counter!("j2t_writer_audits_total", "result" => "failed").increment(1);
                    return Ok(Some(Err(why)));
                }
                Step::Again(why) => {
                    tracing::info!(external_code = code, %why, "audit failed; trying again");
                    let pause = Duration::from_secs(failures as u64);
                    let paused = self
                        .shutdown
                        .run_until_cancelled(tokio::time::sleep(pause))
                        .await;
                    if paused.is_none() {
                        return Ok(None);
                    }
                }
            }
        }
    }
}
