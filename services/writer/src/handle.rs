//! One voucher message: post it, ask `decide` what that means, carry the action out (ack,
//! hold, NAK, dead-letter) and record it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message};
use chrono::Utc;
use j2t_config::WriterConfig;
use j2t_domain::{Attempt, DeadLetter, DeadLetterReason, Stage, VoucherEnvelope, WriteResult};
use j2t_stores::{AttemptLog, Lineage, VoucherState};
use j2t_topology::names;
use j2t_tplus::{Outcome, Rules, TplusClient, VoucherIndex};
use serde_json::Value;
use tokio::sync::{Semaphore, SemaphorePermit, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::audit::{self, Step};
use crate::breaker::{Change, Health, SharedBreaker, Turn};
use crate::decide::{Action, Delivery, Lookup, decide};
use crate::post_with_quick_retries;

pub struct Writer {
    /// Is T+ down? Shared by this replica's handlers.
    pub breaker: SharedBreaker,
    /// One per T+ call in flight (`writer.concurrency`).
    pub permits: Semaphore,
    /// The handlers' tasks, awaited at shutdown.
    pub tasks: TaskTracker,
    pub js: jetstream::Context,
    pub attempts: AttemptLog,
    pub lineage: Lineage,
    pub signals: async_nats::jetstream::kv::Store,
    /// Set while T+ refuses our credentials, so the first success clears the signal.
    pub auth_failing: AtomicBool,
    pub tplus: TplusClient,
    /// ExternalCode → voucher in T+, shared by this replica's handlers: confirms uncertain
    /// writes and finds a voucher's id for the audit.
    pub index: VoucherIndex,
    /// The T+ replies recognised by configuration (duplicate, closed period).
    pub rules: Rules,
    /// `tplus.already_audited_message_contains`.
    pub already_audited: String,
    pub cfg: WriterConfig,
    pub shutdown: CancellationToken,
}

/// Counts a voucher in `j2t_writer_held_vouchers` while it waits for T+.
struct HeldGauge;

impl HeldGauge {
    fn new() -> Self {
        metrics::gauge!("j2t_writer_held_vouchers").increment(1.0);
        Self
    }
}

impl Drop for HeldGauge {
    fn drop(&mut self) {
        metrics::gauge!("j2t_writer_held_vouchers").decrement(1.0);
    }
}

/// How often a message being worked on is kept ours with an in-progress ack: three times
/// per ack_wait, so one lost ack does not lose the message.
pub fn progress_interval(cfg: &WriterConfig) -> Duration {
    (Duration::from_secs(cfg.ack_wait_secs) / 3).max(Duration::from_millis(100))
}

/// Runs `work` while sending an in-progress ack for `msg` every `every`: however long the
/// calls, quick retries, holds and pauses take, JetStream does not redeliver the message
/// meanwhile (nor count a delivery).
async fn with_progress<F: Future>(msg: &Message, every: Duration, work: F) -> F::Output {
    let ticker = async {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = msg.ack_with(AckKind::Progress).await {
                tracing::warn!(%error, "in-progress ack failed");
            }
        }
    };
    // The work first: once it has acked, NAKed or terminated, no in-progress ack follows.
    tokio::select! {
        biased;
        output = work => output,
        never = ticker => never,
    }
}

/// Why a message is dead-lettered, and what went before.
struct Failure {
    reason: DeadLetterReason,
    error: String,
    history: Vec<Attempt>,
}

impl Writer {
    /// Handles one message in one of the consumer's slots. The work runs as a task of its
    /// own, so that a voucher waiting for T+ to come back gives its slot up (`detach`): the
    /// messages pulled after it reach a handler at once and are held too, instead of waiting
    /// unattended in the pull buffer until ack_wait redelivers them (using up deliveries).
    pub async fn handle(self: &Arc<Self>, msg: Message) {
        let (release, released) = oneshot::channel();
        let writer = self.clone();
        self.tasks
            .spawn(async move { writer.work(msg, release).await });
        // Returns when the task detaches or ends (the sender is dropped).
        let _ = released.await;
    }

    async fn work(self: Arc<Self>, msg: Message, release: oneshot::Sender<()>) {
        // The write continues the voucher's trace (started by the transformer).
        let span = tracing::info_span!("write voucher");
        j2t_runtime::continue_trace(&span, msg.headers.as_ref());
        let mut release = Some(release);
        let work = self.try_handle(&msg, &mut release);
        let every = progress_interval(&self.cfg);
        if let Err(error) = with_progress(&msg, every, work).instrument(span).await {
            // NATS trouble while recording the outcome: leave the message unacked, it comes
            // back after ack_wait and the ExternalCode check makes the repeat harmless.
            tracing::error!(error = format!("{error:#}"), "voucher handling failed");
        }
    }

    async fn try_handle(
        &self,
        msg: &Message,
        release: &mut Option<oneshot::Sender<()>>,
    ) -> anyhow::Result<()> {
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
        let mut held: Option<HeldGauge> = None;
        loop {
            let Some((permit, turn)) = self.gate(code, &mut held, release).await? else {
                // Left unacked: redelivered after ack_wait, to this or another replica.
                return Ok(());
            };
            let quick_retries = match turn {
                Turn::Probe => 0,
                _ => self.cfg.quick_retries,
            };
            let (outcome, calls) = post_with_quick_retries(
                || self.tplus.create_other_dispatch(&envelope.payload),
                &self.rules,
                quick_retries,
                |outcome| self.observe(Health::of(outcome)),
            )
            .await;
            drop(permit);
            if let Outcome::AuthExpired(_) = &outcome {
                // The client already tried a refresh: tell the monitor.
                self.auth_failing.store(true, Ordering::Relaxed);
                self.signal(|s| {
                    s.auth_failures += 1;
                    s.auth_failed_at = Some(Utc::now());
                })
                .await;
            }
            let down_after_write = self.breaker.is_down();
            let mut delivery = Delivery {
                delivered,
                calls,
                tplus_down: down_after_write,
            };
            let mut action = decide(outcome.clone(), Lookup::NotDone, delivery, &self.cfg);
            if action == Action::LookUp {
                let Some(lookup) = self.look_up(code, &mut held, release).await? else {
                    // Left unacked: redelivered after ack_wait, to this or another replica.
                    return Ok(());
                };
                delivery.tplus_down = down_after_write || self.breaker.is_down();
                action = decide(outcome, lookup, delivery, &self.cfg);
            }
            match action {
                Action::Ack { outcome, response } => {
                    let audited = if self.cfg.audit {
                        let Some(audited) = self.audit(code, &response, &mut held, release).await?
                        else {
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
                    let audit_failure = match &audited {
                        Some(Err(why)) => Some(self.letter(
                            msg,
                            Failure {
                                reason: DeadLetterReason::AuditFailed,
                                error: why.clone(),
                                history: Vec::new(),
                            },
                            delivered,
                            serde_json::to_value(&envelope)?,
                        )),
                        _ => None,
                    };
                    let detail = match (&audited, &audit_failure) {
                        (Some(Ok(())), _) => "audited".to_string(),
                        (_, Some(letter)) => format!("audit failed: {}", letter.error),
                        _ => String::new(),
                    };
                    return self.written(msg, seq, result, audit_failure, detail).await;
                }
                Action::Hold { pause, reason } => {
                    // Retrying burns nothing but time: hold the voucher (Progress keeps it
                    // ours) and try again after a pause.
                    metrics::counter!("j2t_writer_quota_pauses_total").increment(1);
                    tracing::warn!(external_code = code, %reason, "T+ quota exhausted; pausing");
                    self.signal(|s| s.quota_exhausted_at = Some(Utc::now()))
                        .await;
                    let paused = self
                        .shutdown
                        .run_until_cancelled(tokio::time::sleep(pause))
                        .await;
                    if paused.is_none() {
                        // Left unacked: redelivered after ack_wait, to this or another replica.
                        return Ok(());
                    }
                }
                Action::LookUp => {
                    // `decide` asks for a lookup only before one was made.
                    anyhow::bail!("{code}: a second lookup was asked for");
                }
                Action::AwaitTplus { reason } => {
                    // Next round: the breaker is open, so the voucher waits for its turn.
                    tracing::debug!(external_code = code, %reason, "T+ down; will hold");
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

    /// Waits for a permit (one T+ call per permit: `concurrency` calls at most, held
    /// vouchers and lookups included) and a turn of the breaker. While T+ is down the
    /// voucher is held: its consumer slot is given up and it waits without a permit.
    /// `None` at shutdown.
    async fn gate(
        &self,
        code: &str,
        held: &mut Option<HeldGauge>,
        release: &mut Option<oneshot::Sender<()>>,
    ) -> anyhow::Result<Option<(SemaphorePermit<'_>, Turn)>> {
        loop {
            let permit = self.permits.acquire().await?;
            if self.shutdown.is_cancelled() {
                return Ok(None);
            }
            let turn = self.breaker.turn();
            if let Turn::Wait { .. } = turn {
                drop(permit);
                if held.is_none() {
                    tracing::info!(external_code = code, "T+ is down; holding the voucher");
                    *held = Some(HeldGauge::new());
                }
                // Give the consumer slot up: the wait may be long.
                if let Some(release) = release.take() {
                    let _ = release.send(());
                }
                let waited = self
                    .shutdown
                    .run_until_cancelled(self.breaker.turn_or_wait())
                    .await;
                if waited.is_none() {
                    return Ok(None);
                }
                // Turn or not, ask again with a permit.
                continue;
            }
            *held = None;
            return Ok(Some((permit, turn)));
        }
    }

    /// Looks the voucher's ExternalCode up in T+, under the same permit and breaker turn as
    /// a write; a transient failure counts in the breaker like a failed write. `None` at
    /// shutdown.
    async fn look_up(
        &self,
        code: &str,
        held: &mut Option<HeldGauge>,
        release: &mut Option<oneshot::Sender<()>>,
    ) -> anyhow::Result<Option<Lookup>> {
        let Some((permit, _turn)) = self.gate(code, held, release).await? else {
            return Ok(None);
        };
        let found = self.index.lookup(code).await;
        drop(permit);
        let (lookup, health) = crate::confirm::interpret(found);
        self.observe(health);
        let result = crate::confirm::label(&lookup);
        metrics::counter!("j2t_writer_lookups_total", "result" => result).increment(1);
        tracing::info!(
            external_code = code,
            result,
            ?lookup,
            "looked the voucher up in T+"
        );
        Ok(Some(lookup))
    }

    /// Records what a T+ call said in the breaker; `false` (no more quick retries) while T+
    /// is down.
    fn observe(&self, health: Health) -> bool {
        match self.breaker.record_health(health) {
            Some(Change::Opened) => {
                metrics::counter!("j2t_writer_tplus_outages_total").increment(1);
                metrics::gauge!("j2t_writer_tplus_down").set(1.0);
                tracing::warn!(
                    probe_every_secs = self.cfg.outage_probe_secs,
                    "T+ is down; holding vouchers and probing with one call at a time"
                );
            }
            Some(Change::Closed) => {
                metrics::gauge!("j2t_writer_tplus_down").set(0.0);
                tracing::info!("T+ answers again; resuming");
            }
            None => {}
        }
        !self.breaker.is_down()
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
        let letter = self.letter(msg, failure, delivered, payload);
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

    /// The dead letter of `msg`, with its original headers, history and trace.
    fn letter(
        &self,
        msg: &Message,
        failure: Failure,
        delivered: i64,
        payload: Value,
    ) -> DeadLetter {
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
        letter
    }
}
