//! Alerting: every `monitor.evaluate_every_secs` the rules run over a fresh pipeline
//! snapshot, and each configured webhook is told what started firing, what still fires (at
//! most every `renotify_secs`) and what cleared.
//!
//! - `rules`: the conditions, pure over a snapshot;
//! - `state`: dedup, rate limit and "resolved", pure;
//! - `texts` and `format`: message wording (zh/en) and bodies (generic, DingTalk, WeCom);
//! - `send`: the HTTP POST with retries;
//! - `worker`: one receiver's loop.
//!
//! The state lives in memory: a restarted monitor announces what is still firing once more,
//! and two monitors would both notify, so run one.

mod format;
mod rules;
mod send;
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
        // Usage unknown this round: the storage alerts stay as they were.
        match j2t_topology::storage_usage(topology).await {
            Ok(usage) => firing.extend(rules::storage(&usage, &thresholds)),
            Err(error) => {
                tracing::warn!(%error, "could not read storage usage");
                firing.extend(last_storage.iter().cloned());
            }
        }
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
