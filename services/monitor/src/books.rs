//! The daily reconcile: once a day at `monitor.reconcile_at` (JST local time) the monitor
//! compares JST with T+ over the last `monitor.reconcile_days` days (the engine of
//! `jst2tplus reconcile`), keeps the result in the `j2t_reconcile` bucket, and then sends the
//! daily digest. The alert rules (`alerts`), the gauges and the console read the result from
//! the bucket, so every monitor shows the same whichever ran it.
//!
//! - `schedule`: when to run, pure;
//! - `record`: what is kept of a run, and the per-date view, pure;
//! - `store`: the bucket's keys;
//! - `gauges`: the result as metrics.

pub mod gauges;
pub mod record;
pub mod schedule;
pub mod store;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::future::BoxFuture;
use j2t_config::Config;
use j2t_reconcile::Report;
use j2t_topology::Topology;
use tokio_util::sync::CancellationToken;

use self::record::RunRecord;
use self::schedule::{Decision, Schedule, Seen};
use self::store::Books;

/// Compares the books over `from..=to`; `Err`: it could not run, and why.
pub trait Engine: Send + Sync + 'static {
    fn reconcile<'a>(
        &'a self,
        cfg: &'a Config,
        topology: &'a Topology,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BoxFuture<'a, Result<Report, String>>;
}

/// `jst2tplus reconcile`'s engine (`j2t_reconcile`), over every task.
pub struct ReconcileEngine;

impl Engine for ReconcileEngine {
    fn reconcile<'a>(
        &'a self,
        cfg: &'a Config,
        topology: &'a Topology,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BoxFuture<'a, Result<Report, String>> {
        Box::pin(async move {
            let request = j2t_reconcile::Request {
                from,
                to,
                task: None,
            };
            j2t_reconcile::reconcile(cfg, topology, &request, &j2t_reconcile::NoProgress)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Re-reads the clock and the bucket at least this often while waiting (a clock change,
/// another monitor's claim finishing).
const RECHECK: StdDuration = StdDuration::from_secs(300);
/// After a NATS error, try again this much later.
const AFTER_ERROR: StdDuration = StdDuration::from_secs(30);

pub fn schedule(cfg: &Config) -> Schedule {
    let monitor = &cfg.monitor;
    let timeout = i64::try_from(monitor.reconcile_timeout_minutes).unwrap_or(i64::MAX / 120);
    Schedule::new(
        monitor.reconcile_at,
        cfg.jst.utc_offset_minutes,
        monitor.reconcile_days,
        Duration::minutes(timeout.min(7 * 24 * 60)),
        monitor.reconcile_attempts,
    )
}

/// Which monitor claimed a run: host and pid.
fn owner() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host} pid {}", std::process::id())
}

/// The daily loop: the reconcile when due (if on), then the digest (if on).
pub async fn run(
    topology: Arc<Topology>,
    cfg: Arc<Config>,
    engine: Arc<dyn Engine>,
    digest: crate::alerts::DigestSender,
    shutdown: CancellationToken,
) {
    let monitor = &cfg.monitor;
    if !monitor.reconcile_enabled && !monitor.digest_enabled {
        tracing::info!(
            "daily reconcile and digest off (monitor.reconcile_enabled, monitor.digest_enabled)"
        );
        return;
    }
    if monitor.reconcile_enabled {
        gauges::register_runs();
    }
    let daily = Daily {
        topology: &topology,
        cfg: &cfg,
        engine: &*engine,
        books: Books::new(&topology),
        schedule: schedule(&cfg),
        owner: owner(),
    };
    let books = &daily.books;
    // The day whose digest this monitor knows was sent (by it or another).
    let mut digest_done: Option<NaiveDate> = None;
    loop {
        let now = Utc::now();
        let pause = match daily.step(now, &shutdown).await {
            Ok(Step::Wait(until)) => until,
            Ok(Step::Digest { day, next }) => {
                if monitor.digest_enabled && digest_done != Some(day) {
                    match digest.send_once(books, &topology, &cfg, day).await {
                        Ok(()) => digest_done = Some(day),
                        Err(error) => {
                            tracing::warn!(%error, %day, "daily digest not sent; will try again");
                        }
                    }
                }
                if digest_done == Some(day) || !monitor.digest_enabled {
                    next
                } else {
                    now + Duration::from_std(AFTER_ERROR).unwrap_or_default()
                }
            }
            Err(error) => {
                tracing::warn!(%error, "daily reconcile: could not read or write its bucket");
                now + Duration::from_std(AFTER_ERROR).unwrap_or_default()
            }
        };
        let wait = (pause - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(RECHECK);
        if shutdown
            .run_until_cancelled(tokio::time::sleep(wait))
            .await
            .is_none()
        {
            return;
        }
    }
}

enum Step {
    Wait(DateTime<Utc>),
    /// Today's reconcile is over (or off): the digest of `day` is due; the next run at `next`.
    Digest {
        day: NaiveDate,
        next: DateTime<Utc>,
    },
}

/// What one decision needs.
struct Daily<'a> {
    topology: &'a Topology,
    cfg: &'a Config,
    engine: &'a dyn Engine,
    books: Books,
    schedule: Schedule,
    owner: String,
}

impl Daily<'_> {
    /// Decides at `now` and, when due, claims and runs today's reconcile.
    async fn step(
        &self,
        now: DateTime<Utc>,
        shutdown: &CancellationToken,
    ) -> Result<Step, store::StoreError> {
        let Daily {
            topology,
            cfg,
            engine,
            books,
            schedule,
            owner,
        } = self;
        let day = schedule.day(now);
        if !cfg.monitor.reconcile_enabled {
            return Ok(match schedule.decide(now, Some(Seen::Finished)) {
                Decision::Wait { until } => Step::Wait(until),
                _ => Step::Digest {
                    day,
                    next: schedule.due(day + Duration::days(1)),
                },
            });
        }
        let today = books.run(day).await?;
        let seen = today.as_ref().map(|(record, _)| match record.finished_at {
            Some(finished_at) if record.state == record::RunState::Failed => Seen::Failed {
                finished_at,
                attempts: record.attempts,
            },
            Some(_) => Seen::Finished,
            None => Seen::Running {
                started_at: record.started_at,
            },
        });
        match schedule.decide(now, seen) {
            Decision::Wait { until } => Ok(Step::Wait(until)),
            Decision::Done { day, next } => Ok(Step::Digest { day, next }),
            Decision::Run {
                day,
                from,
                to,
                takeover,
            } => {
                let mut claim = RunRecord::claim(day, from, to, owner.to_string(), now);
                let mut revision = None;
                if takeover && let Some((previous, rev)) = &today {
                    claim = claim.again(previous);
                    revision = Some(*rev);
                }
                if !books.claim(&claim, revision).await? {
                    tracing::info!(%day, "another monitor claimed today's reconcile");
                    return Ok(Step::Wait(now));
                }
                tracing::info!(%day, %from, %to, attempt = claim.attempts, "daily reconcile started");
                let timeout = (schedule.stale_after - Duration::minutes(10))
                    .to_std()
                    .unwrap_or(StdDuration::from_secs(3600));
                let run = tokio::time::timeout(timeout, engine.reconcile(cfg, topology, from, to));
                let result = match shutdown.run_until_cancelled(run).await {
                    // Stopping mid-run: the claim goes stale and another monitor (or this one,
                    // restarted) takes it over.
                    None => return Ok(Step::Wait(now)),
                    Some(Ok(result)) => result,
                    Some(Err(_)) => Err(format!(
                        "did not finish within monitor.reconcile_timeout_minutes ({} min)",
                        cfg.monitor.reconcile_timeout_minutes
                    )),
                };
                let done = claim.finish(result.as_ref().map_err(Clone::clone), Utc::now());
                log_result(&done);
                gauges::count_run(done.state);
                books.finish(&done).await?;
                // Straight on to the digest; the next decision (a retry, or tomorrow's run)
                // follows from the record just written.
                Ok(Step::Digest { day, next: now })
            }
        }
    }
}

fn log_result(done: &RunRecord) {
    let (day, from, to) = (done.day, done.from, done.to);
    match (&done.error, &done.outcome) {
        (Some(error), _) => {
            tracing::warn!(%day, %from, %to, %error, "daily reconcile could not run")
        }
        (None, Some(outcome)) if outcome.differing_rows > 0 => tracing::warn!(
            %day, %from, %to,
            differing_rows = outcome.differing_rows,
            qty_difference = outcome.qty_difference,
            amount_difference = outcome.amount_difference,
            "daily reconcile: the books differ"
        ),
        _ => tracing::info!(%day, %from, %to, "daily reconcile: the books are equal"),
    }
}

/// The latest results, for the alert rules and the gauges.
pub async fn latest(
    topology: &Topology,
) -> Result<(Option<RunRecord>, Option<RunRecord>), store::StoreError> {
    Books::new(topology).latest().await
}
