//! Alerting: every `monitor.evaluate_every_secs` the rules run over a fresh pipeline
//! snapshot, and each configured webhook is told what started firing, what still fires (at
//! most every `renotify_secs`) and what cleared.
//!
//! - `rules`: the conditions, pure over a snapshot;
//! - `state`: dedup, rate limit and "resolved", pure;
//! - `texts` and `format`: message wording (zh/en) and bodies (generic, DingTalk, WeCom);
//! - `send`: the HTTP POST with retries;
//! - `worker`: one receiver's loop;
//! - `digest`: the daily digest's content (sent once a day by `DigestSender`, not a rule).
//!
//! Besides the rules over the pipeline snapshot, the daily reconcile's results (in the
//! `j2t_reconcile` bucket) fire "books differ" and "reconcile could not run".
//!
//! The state lives in memory: a restarted monitor announces what is still firing once more,
//! and two monitors would both notify, so run one.

pub(crate) mod digest;
mod format;
mod rules;
mod send;
mod sign;
mod state;
mod texts;
mod worker;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use j2t_config::Config;
use j2t_topology::Topology;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use self::rules::{Condition, Memory, Thresholds};
use self::send::Sender;
use self::state::Policy;
use self::texts::Style;
use self::worker::{Round, Webhook, Worker};

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error(transparent)]
    Send(#[from] send::SendError),
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] crate::books::store::StoreError),
    #[error("could not read the pipeline status: {0}")]
    Status(String),
}

/// One receiver of the digest: its configured name (safe to log), URL and format.
struct DigestWebhook {
    name: String,
    url: j2t_config::SecretString,
    format: format::Format,
    secret: Option<j2t_config::SecretString>,
}

/// Sends the daily digest to every webhook, once a day whatever the number of monitors.
#[derive(Clone)]
pub struct DigestSender {
    webhooks: Arc<Vec<DigestWebhook>>,
    style: Style,
    sender: Sender,
}

impl DigestSender {
    pub fn new(cfg: &Config) -> Result<Self, AlertsError> {
        let webhooks = cfg
            .monitor
            .webhooks
            .iter()
            .map(|(name, hook)| DigestWebhook {
                name: name.clone(),
                url: hook.url.clone(),
                format: hook.format,
                secret: hook.secret.clone(),
            })
            .collect();
        Ok(Self {
            webhooks: Arc::new(webhooks),
            style: Style::new(cfg.monitor.language, cfg.jst.utc_offset_minutes),
            sender: Sender::new(send::TIMEOUT)?,
        })
    }

    /// Sends `day`'s digest unless it was sent already (by this monitor or another: its key
    /// is created before sending, so at most one monitor sends it). A receiver that fails
    /// after the sender's retries misses that day's digest; the failure is logged and
    /// counted, as for alerts.
    pub async fn send_once(
        &self,
        books: &crate::books::store::Books,
        topology: &Topology,
        cfg: &Config,
        day: chrono::NaiveDate,
    ) -> Result<(), DigestError> {
        if books.digest::<digest::DigestRecord>(day).await?.is_some() {
            return Ok(());
        }
        let status = j2t_stores::pipeline_status(topology, cfg.jst.utc_offset_minutes)
            .await
            .map_err(|e| DigestError::Status(e.to_string()))?;
        let previous = books
            .digest::<digest::DigestRecord>(day - chrono::Duration::days(1))
            .await?;
        let (latest, checked) = books.latest().await?;
        let state = digest::Books::from_runs(
            cfg.monitor.reconcile_enabled,
            day,
            latest.as_ref(),
            checked.as_ref(),
        );
        let digest = digest::Digest::new(day, &status, previous.as_ref(), state);
        if !books.claim_digest(day, &digest.record()).await? {
            return Ok(());
        }
        let lines = digest::lines(&self.style, &digest);
        tracing::info!(%day, digest = %lines.join(" | "), "daily digest");
        for hook in self.webhooks.iter() {
            let body = format::render_digest(hook.format, &self.style, &digest);
            let (url, body) = sign::signed(
                hook.format,
                hook.secret.as_ref(),
                &hook.url,
                body,
                chrono::Utc::now(),
            );
            let errcode = format::answers_with_errcode(hook.format);
            match self.sender.send(&url, &body, errcode).await {
                Ok(()) => {
                    metrics::counter!("j2t_digests_sent_total", "webhook" => hook.name.clone())
                        .increment(1);
                }
                Err(error) => {
                    tracing::warn!(webhook = %hook.name, %error, "daily digest not delivered");
                    metrics::counter!("j2t_alerts_send_failures_total", "webhook" => hook.name.clone())
                        .increment(1);
                }
            }
        }
        Ok(())
    }
}

pub async fn run(
    topology: Arc<Topology>,
    cfg: Arc<Config>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let monitor = &cfg.monitor;
    let style = Style::new(monitor.language, cfg.jst.utc_offset_minutes);
    let policy = Policy::from_config(monitor);
    let sender = Sender::new(send::TIMEOUT).map_err(AlertsError::from)?;
    let (rounds, receiver) = watch::channel(None);
    let mut workers = Vec::new();
    for (name, hook) in &monitor.webhooks {
        let worker = Worker {
            webhook: Webhook {
                name: name.clone(),
                url: hook.url.clone(),
                format: hook.format,
                secret: hook.secret.clone(),
            },
            style,
            policy: policy.clone(),
            sender: sender.clone(),
        };
        workers.push(worker.run(receiver.clone(), shutdown.clone()));
    }
    drop(receiver);
    if workers.is_empty() {
        tracing::info!("no alert webhooks configured (monitor.webhooks); alerts are only logged");
    }
    let evaluate = evaluate_loop(&topology, &cfg, rounds, shutdown);
    tokio::join!(evaluate, futures::future::join_all(workers));
    Ok(())
}

async fn evaluate_loop(
    topology: &Topology,
    cfg: &Config,
    rounds: watch::Sender<Option<Round>>,
    shutdown: CancellationToken,
) {
    let thresholds = Thresholds::from_config(&cfg.monitor);
    let mut memory = Memory::default();
    let mut firing_keys = BTreeSet::new();
    let mut last_storage: Vec<Condition> = Vec::new();
    let mut last_books: Vec<Condition> = Vec::new();
    let mut ticker =
        tokio::time::interval(Duration::from_secs(cfg.monitor.evaluate_every_secs.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if shutdown.run_until_cancelled(ticker.tick()).await.is_none() {
            return;
        }
        // Without a snapshot nothing is known: keep every alert as it is rather than
        // "resolve" them all because NATS did not answer once.
        let status = match j2t_stores::pipeline_status(topology, cfg.jst.utc_offset_minutes).await {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(%error, "could not read the pipeline status; alerts not evaluated");
                continue;
            }
        };
        let mut firing = rules::evaluate(&status, status.at, &thresholds, &mut memory);
        firing.extend(changed_after_write(topology, &status).await);
        // Usage unknown this round: the storage alerts stay as they were.
        match j2t_topology::storage_usage(topology).await {
            Ok(usage) => firing.extend(rules::storage(&usage, &thresholds)),
            Err(error) => {
                tracing::warn!(%error, "could not read storage usage");
                firing.extend(last_storage.iter().cloned());
            }
        }
        // The daily reconcile's alerts (none once it is switched off: its last result would
        // fire for ever); unknown this round: as they were.
        let books = if cfg.monitor.reconcile_enabled {
            crate::books::latest(topology).await
        } else {
            Ok((None, None))
        };
        match books {
            Ok((latest, checked)) => {
                last_books = rules::books(latest.as_ref(), checked.as_ref());
            }
            Err(error) => tracing::warn!(%error, "could not read the daily reconcile's results"),
        }
        firing.extend(last_books.iter().cloned());
        firing.sort_by_key(Condition::key);
        last_storage = firing
            .iter()
            .filter(|c| c.kind() == rules::AlertKind::StorageFull)
            .cloned()
            .collect();
        log_changes(&mut firing_keys, &firing);
        rounds.send_replace(Some(Round {
            at: status.at,
            firing: Arc::new(firing),
        }));
    }
}

/// The orders reported as changed after the write (read only while such letters wait).
async fn changed_after_write(
    topology: &Topology,
    status: &j2t_stores::PipelineStatus,
) -> Vec<Condition> {
    let kind = j2t_stores::DeadLetterKind::new(
        j2t_domain::Stage::Transformer,
        j2t_domain::DeadLetterReason::ChangedAfterWrite,
    );
    if status.dead_letters.get(&kind).copied().unwrap_or(0) == 0 {
        return Vec::new();
    }
    let filter = j2t_stores::DlqFilter {
        reason: Some(j2t_domain::DeadLetterReason::ChangedAfterWrite),
        ..Default::default()
    };
    match j2t_stores::DeadLetters::new(topology).list(&filter).await {
        Ok(entries) => {
            let letters: Vec<_> = entries
                .into_iter()
                .map(|e| (e.id, e.letter.payload, e.letter.error))
                .collect();
            rules::changed_after_write(&letters)
        }
        Err(error) => {
            tracing::warn!(%error, "could not read the changed-after-write letters");
            Vec::new()
        }
    }
}

/// Logs alerts starting and stopping (also without webhooks) and exports how many fire.
fn log_changes(previous: &mut BTreeSet<String>, firing: &[Condition]) {
    let current: BTreeSet<String> = firing.iter().map(Condition::key).collect();
    for condition in firing {
        let key = condition.key();
        if !previous.contains(&key) {
            tracing::warn!(alert = %key, severity = condition.severity().as_str(), details = %condition.details(), "alert firing");
        }
    }
    for key in previous.difference(&current) {
        tracing::info!(alert = %key, "alert resolved");
    }
    for kind in rules::AlertKind::ALL {
        let count = firing.iter().filter(|c| c.kind() == kind).count();
        metrics::gauge!("j2t_alerts_firing", "alert" => kind.as_str()).set(count as f64);
    }
    *previous = current;
}
