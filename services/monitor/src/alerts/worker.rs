//! One receiver's loop: takes each evaluation round, asks its tracker what is due, sends it.
//! Each receiver has its own worker and tracker, so a slow or dead receiver delays only its
//! own messages, never the rule evaluation or the other receivers.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use j2t_config::SecretString;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::format::{self, Format};
use super::rules::Condition;
use super::send::Sender;
use super::state::{Policy, Tracker};
use super::texts::Style;

/// The conditions firing at one evaluation.
#[derive(Debug, Clone)]
pub struct Round {
    pub at: DateTime<Utc>,
    pub firing: Arc<Vec<Condition>>,
}

pub struct Webhook {
    /// The configured name: safe to log, unlike the URL.
    pub name: String,
    pub url: SecretString,
    pub format: Format,
    /// The robot's signing secret (加签), if it has one.
    pub secret: Option<SecretString>,
}

pub struct Worker {
    pub webhook: Webhook,
    pub style: Style,
    pub policy: Policy,
    pub sender: Sender,
}

impl Worker {
    /// Runs until shutdown or until the evaluation loop is gone. A receiver lagging behind
    /// sees only the latest round (`watch` keeps one), which is all that matters.
    pub async fn run(
        self,
        mut rounds: watch::Receiver<Option<Round>>,
        shutdown: CancellationToken,
    ) {
        let hook = &self.webhook;
        let mut tracker = Tracker::new(self.policy.clone());
        loop {
            let changed = shutdown.run_until_cancelled(rounds.changed()).await;
            if !matches!(changed, Some(Ok(()))) {
                return;
            }
            let Some(round) = rounds.borrow_and_update().clone() else {
                continue;
            };
            let plan = tracker.observe(round.at, &round.firing);
            if plan.held_back > 0 {
                tracing::warn!(
                    webhook = %hook.name,
                    held_back = plan.held_back,
                    "alert rate limit reached; the rest goes out later"
                );
                metrics::counter!("j2t_alerts_held_back_total", "webhook" => hook.name.clone())
                    .increment(plan.held_back as u64);
            }
            for note in plan.notifications {
                let body = format::render(hook.format, &self.style, &note);
                // Signed per message: the robots accept a timestamp within the hour only.
                let (url, body) = super::sign::signed(
                    hook.format,
                    hook.secret.as_ref(),
                    &hook.url,
                    body,
                    chrono::Utc::now(),
                );
                let send = self
                    .sender
                    .send(&url, &body, format::answers_with_errcode(hook.format));
                let Some(sent) = shutdown.run_until_cancelled(send).await else {
                    return;
                };
                let (alert, status) = (note.condition.kind().as_str(), note.status.as_str());
                match sent {
                    Ok(()) => {
                        tracker.delivered(&note);
                        tracing::info!(webhook = %hook.name, alert = %note.condition.key(), status, "alert sent");
                        metrics::counter!("j2t_alerts_sent_total", "alert" => alert, "status" => status)
                            .increment(1);
                    }
                    Err(error) => {
                        tracker.failed(&note);
                        tracing::warn!(
                            webhook = %hook.name,
                            alert = %note.condition.key(),
                            status,
                            %error,
                            "alert not delivered; will try again"
                        );
                        metrics::counter!("j2t_alerts_send_failures_total", "webhook" => hook.name.clone())
                            .increment(1);
                    }
                }
            }
        }
    }
}
