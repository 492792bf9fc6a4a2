//! One voucher message: post it, ask `decide` what that means, carry the action out (ack,
//! hold, NAK, dead-letter) and record it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use async_nats::jetstream::{self, AckKind, Message};
use chrono::Utc;
use j2t_config::WriterConfig;
use j2t_domain::{Attempt, DeadLetter, DeadLetterReason, Stage, VoucherEnvelope, WriteResult};
use j2t_stores::{AttemptLog, Lineage, VoucherState};
use j2t_topology::names;
use j2t_tplus::{DuplicateRule, Outcome, TplusClient};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::decide::{Action, Delivery, decide};
use crate::post_with_quick_retries;

pub struct Writer {
    pub js: jetstream::Context,
    pub attempts: AttemptLog,
    pub lineage: Lineage,
    pub signals: async_nats::jetstream::kv::Store,
    /// Set while T+ refuses our credentials, so the first success clears the signal.
    pub auth_failing: AtomicBool,
    pub tplus: TplusClient,
    pub duplicate: DuplicateRule,
    pub cfg: WriterConfig,
    pub shutdown: CancellationToken,
}

/// Why a message is dead-lettered, and what went before.
struct Failure {
    reason: DeadLetterReason,
    error: String,
    history: Vec<Attempt>,
}

impl Writer {
    pub async fn handle(&self, msg: Message) {
        // The write continues the voucher's trace (started by the transformer).
        let span = tracing::info_span!("write voucher");
        j2t_runtime::continue_trace(&span, msg.headers.as_ref());
        if let Err(error) = self.try_handle(&msg).instrument(span).await {
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
                let failure = Failure {
                    reason: DeadLetterReason::BadPayload,
                    error: error.to_string(),
                    history: Vec::new(),
                };
                return self
                    .dead_letter(msg, seq, failure, delivered, payload)
                    .await;
            }
        };
        let code = envelope.external_code.as_str();
        loop {
            let (outcome, calls) = post_with_quick_retries(
                || self.tplus.create_other_dispatch(&envelope.payload),
                &self.duplicate,
                self.cfg.quick_retries,
            )
            .await;
            if let Outcome::AuthExpired(_) = &outcome {
                // The client already tried a refresh: tell the monitor.
                self.auth_failing.store(true, Ordering::Relaxed);
                self.signal(|s| {
                    s.auth_failures += 1;
                    s.auth_failed_at = Some(Utc::now());
                })
                .await;
            }
            match decide(outcome, Delivery { delivered, calls }, &self.cfg) {
                Action::Ack { outcome, response } => {
                    let result = WriteResult {
                        external_code: code.to_string(),
                        outcome,
                        io_ids: envelope.io_ids.clone(),
                        response,
                        attempts: delivered as u64,
                        written_at: Utc::now(),
                    };
                    return self.written(msg, result).await;
                }
                Action::Hold { pause, reason } => {
                    // Retrying burns nothing but time: hold the voucher (Progress keeps it
                    // ours) and try again after a pause.
                    metrics::counter!("j2t_writer_quota_pauses_total").increment(1);
                    tracing::warn!(external_code = code, %reason, "T+ quota exhausted; pausing");
                    self.signal(|s| s.quota_exhausted_at = Some(Utc::now()))
                        .await;
                    msg.ack_with(AckKind::Progress)
                        .await
                        .map_err(|e| anyhow::anyhow!("progress: {e}"))?;
                    let paused = self
                        .shutdown
                        .run_until_cancelled(tokio::time::sleep(pause))
                        .await;
                    if paused.is_none() {
                        // Left unacked: redelivered after ack_wait, to this or another replica.
                        return Ok(());
                    }
                }
                Action::Retry { delay, attempt } => {
                    self.attempts
                        .record(code, delivered as u64, &attempt)
                        .await?;
                    metrics::counter!("j2t_writer_retries_total").increment(1);
                    tracing::warn!(external_code = code, %attempt, delivered, ?delay, "T+ write failed; will retry");
                    msg.ack_with(AckKind::Nak(Some(delay)))
                        .await
                        .map_err(|e| anyhow::anyhow!("nak: {e}"))?;
                    return Ok(());
                }
                Action::DeadLetter {
                    reason,
                    attempt,
                    error,
                } => {
                    let history = self
                        .attempts
                        .record(code, delivered as u64, &attempt)
                        .await?;
                    let failure = Failure {
                        reason,
                        error,
                        history,
                    };
                    let payload = serde_json::to_value(&envelope)?;
                    return self
                        .dead_letter(msg, seq, failure, delivered, payload)
                        .await;
                }
            }
        }
    }

    /// T+ has the voucher: record the result, ack, settle.
    async fn written(&self, msg: &Message, result: WriteResult) -> anyhow::Result<()> {
        let code = result.external_code.as_str();
        if self.auth_failing.swap(false, Ordering::Relaxed) {
            self.signal(|s| s.auth_failures = 0).await;
        }
        let outcome = result.outcome.as_str();
        j2t_topology::publish_json(
            &self.js,
            &names::results_subject(outcome),
            &format!("result:{code}"),
            &result,
        )
        .await?;
        msg.double_ack()
            .await
            .map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        metrics::counter!("j2t_writer_vouchers_total", "outcome" => outcome).increment(1);
        tracing::info!(external_code = code, outcome, "voucher written");
        self.settled(code, outcome, String::new()).await;
        Ok(())
    }

    /// Tells the monitor something only the writer sees; bookkeeping, never fails a voucher.
    async fn signal(&self, change: impl Fn(&mut j2t_stores::Signals)) {
        if let Err(error) = j2t_stores::update_signals(&self.signals, change).await {
            tracing::warn!(%error, "could not record a signal for the monitor");
        }
    }

    /// Records what became of the voucher (for `whereis`) and forgets its attempts. Both are
    /// bookkeeping: a failure is logged, never fails the voucher.
    async fn settled(&self, code: &str, state: &str, detail: String) {
        let state = VoucherState {
            state: state.to_string(),
            detail,
            at: Utc::now(),
        };
        if let Err(error) = self.lineage.set_state(code, &state).await {
            tracing::warn!(%error, "could not record the voucher's state");
        }
        if let Err(error) = self.attempts.clear(code).await {
            tracing::warn!(%error, "could not clear the attempt history");
        }
    }

    /// Stores the dead letter with the original headers and history, then TERMs the message
    /// (TERM stops redelivery).
    async fn dead_letter(
        &self,
        msg: &Message,
        seq: u64,
        failure: Failure,
        delivered: i64,
        payload: Value,
    ) -> anyhow::Result<()> {
        let headers: BTreeMap<String, String> = msg
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .filter_map(|(k, v)| Some((k.to_string(), v.first()?.to_string())))
            .collect();
        let trace_id = j2t_runtime::trace_id(msg.headers.as_ref());
        let mut letter = DeadLetter::first_attempt(
            Stage::Writer,
            failure.reason,
            failure.error,
            msg.subject.to_string(),
            payload,
        );
        letter.attempts = delivered as u64;
        if let Some(first) = failure.history.first() {
            letter.first_failure = first.at;
        }
        letter.history = failure.history;
        letter.headers = headers;
        letter.trace_id = trace_id;
        j2t_stores::publish_dead_letter(&self.js, &letter, &format!("writer:{seq}")).await?;
        msg.double_ack_with(AckKind::Term)
            .await
            .map_err(|e| anyhow::anyhow!("term: {e}"))?;
        metrics::counter!("j2t_writer_vouchers_total", "outcome" => "dead_lettered").increment(1);
        if let Some(code) = letter.payload["external_code"].as_str() {
            let detail = format!("{}: {}", letter.reason, letter.error);
            self.settled(code, "dead_lettered", detail).await;
        }
        Ok(())
    }
}
