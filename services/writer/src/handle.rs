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
use j2t_domain::{Attempt, DeadLetter, DeadLetterReason, Stage, VoucherEnvelope};
use j2t_stores::{AttemptLog, Lineage, VoucherState};
use j2t_tplus::{Outcome, Rules, TplusClient, VoucherIndex};
use serde_json::Value;
use tokio::sync::{Semaphore, SemaphorePermit, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::breaker::{Change, Health, SharedBreaker, Turn};
use crate::decide::{Action, Delivery, Lookup, decide};
use crate::post_with_quick_retries;
use crate::written::Written;

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
pub(crate) struct HeldGauge;

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
pub(crate) struct Failure {
    pub reason: DeadLetterReason,
    pub error: String,
    pub history: Vec<Attempt>,
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
                |outcome| self.observe_outcome(outcome),
            )
            .await;
            drop(permit);
            if let Outcome::AuthExpired(_) = &outcome {
                // The client already tried a refresh: tell the monitor, and whether T+
                // refused the refresh itself (then only an operator can help).
                self.auth_failing.store(true, Ordering::Relaxed);
                let refused = self.tplus.refresh_refused();
                self.signal(|s| {
                    s.auth_failures += 1;
                    s.auth_failed_at = Some(Utc::now());
                    if let Some(reason) = &refused {
                        s.refresh_refused.insert(
                            "tplus".into(),
                            j2t_stores::RefreshRefused {
                                reason: reason.clone(),
                                at: Utc::now(),
                            },
                        );
                    }
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
                    let written = Written {
                        msg,
                        seq,
                        delivered,
                        envelope: &envelope,
                    };
                    return self
                        .ack_written(written, outcome, response, &mut held, release)
                        .await;
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

    /// Waits for a permit (one T+ call per permit: `concurrency` calls at most, held
    /// vouchers and lookups included) and a turn of the breaker. While T+ is down the
    /// voucher is held: its consumer slot is given up and it waits without a permit.
    /// `None` at shutdown.
    pub(crate) async fn gate(
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
    pub(crate) fn observe(&self, health: Health) -> bool {
        self.observe_because(health, "")
    }

    /// [`Self::observe`] for a write's outcome: when T+ is taken to be down, the log says
    /// why (a timeout, a 503, a redirect the base URL answers, …).
    fn observe_outcome(&self, outcome: &Outcome) -> bool {
        let reason = match outcome {
            Outcome::Transient { reason, .. } => reason.as_str(),
            _ => "",
        };
        self.observe_because(Health::of(outcome), reason)
    }

    fn observe_because(&self, health: Health, reason: &str) -> bool {
        match self.breaker.record_health(health) {
            Some(Change::Opened) => {
                metrics::counter!("j2t_writer_tplus_outages_total").increment(1);
                metrics::gauge!("j2t_writer_tplus_down").set(1.0);
                tracing::warn!(
                    probe_every_secs = self.cfg.outage_probe_secs,
                    last_failure = reason,
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
    pub(crate) async fn signal(&self, change: impl Fn(&mut j2t_stores::Signals)) {
        if let Err(error) = j2t_stores::update_signals(&self.signals, change).await {
            tracing::warn!(%error, "could not record a signal for the monitor");
        }
    }

    /// Records what became of the voucher (for `whereis`) and forgets its attempts. Both are
    /// bookkeeping: a failure is logged, never fails the voucher.
    pub(crate) async fn settled(&self, code: &str, state: &str, detail: String) {
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
    pub(crate) fn letter(
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
