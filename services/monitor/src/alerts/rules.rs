//! The alert rules: pure functions from a pipeline snapshot (and the little the rules must
//! remember between snapshots) to the conditions firing now. Nothing here does I/O, so every
//! rule is unit-tested with hand-made snapshots.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use j2t_config::MonitorConfig;
use j2t_reconcile::Difference;
use j2t_stores::{CursorStatus, PipelineStatus};
use j2t_topology::StorageUsage;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Which rule an alert comes from; its name is a bounded metric label and the `alert` of
/// the generic JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    DeadLetters,
    NoWrites,
    CursorLag,
    QuotaExhausted,
    AuthFailures,
    StorageFull,
    BooksDiffer,
    ReconcileFailed,
    ChangedAfterWrite,
    RefreshRefused,
    RefreshExpiring,
}

impl AlertKind {
    /// Every rule, for metrics that must show 0 when a rule is quiet.
    pub const ALL: [AlertKind; 11] = [
        AlertKind::DeadLetters,
        AlertKind::NoWrites,
        AlertKind::CursorLag,
        AlertKind::QuotaExhausted,
        AlertKind::AuthFailures,
        AlertKind::StorageFull,
        AlertKind::BooksDiffer,
        AlertKind::ReconcileFailed,
        AlertKind::ChangedAfterWrite,
        AlertKind::RefreshRefused,
        AlertKind::RefreshExpiring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::DeadLetters => "dead_letters",
            AlertKind::NoWrites => "no_writes",
            AlertKind::CursorLag => "cursor_lag",
            AlertKind::QuotaExhausted => "quota_exhausted",
            AlertKind::AuthFailures => "auth_failures",
            AlertKind::StorageFull => "storage_full",
            AlertKind::BooksDiffer => "books_differ",
            AlertKind::ReconcileFailed => "reconcile_failed",
            AlertKind::ChangedAfterWrite => "changed_after_write",
            AlertKind::RefreshRefused => "refresh_refused",
            AlertKind::RefreshExpiring => "refresh_expiring",
        }
    }
}

/// One firing condition with the facts its messages show.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Dead letters nobody has replayed yet, by `stage.reason`.
    DeadLetters {
        total: u64,
        by_reason: BTreeMap<String, u64>,
    },
    /// Vouchers wait but nothing has been written since `stalled_since`.
    NoWrites {
        stalled_since: DateTime<Utc>,
        last_write: Option<DateTime<Utc>>,
        waiting: u64,
    },
    /// A sync task's cursor is far behind now.
    CursorLag {
        task: String,
        lag_secs: i64,
        next_start: String,
    },
    /// T+ said "quota exhausted" recently.
    QuotaExhausted { at: DateTime<Utc> },
    /// T+ keeps refusing our credentials.
    AuthFailures {
        count: u64,
        last_at: Option<DateTime<Utc>>,
    },
    /// A stream or KV bucket holds a large share of its byte limit; once full, publishing
    /// to it fails and its stage stops.
    StorageFull {
        store: String,
        bytes: u64,
        max_bytes: i64,
    },
    /// The latest daily reconcile found JST and T+ differ (fires until a later run finds
    /// them equal).
    BooksDiffer {
        /// The JST day of the run, and the dates it covered.
        day: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
        differing_rows: u64,
        qty_difference: f64,
        amount_difference: f64,
        /// The worst differences, with their first explanations.
        worst: Vec<Difference>,
    },
    /// JST changed an order after its voucher was written, and `corrections.policy` is
    /// `report`: T+ still holds the old lines (one alert per order, until its dead letter is
    /// replayed or purged).
    ChangedAfterWrite {
        io_id: i64,
        voucher: String,
        /// "SKU qty A → B (date, warehouse W); …".
        summary: String,
        letter: u64,
    },
    /// JST or T+ refused to refresh the token for good: the service cannot call it until
    /// an operator configures a new pair.
    RefreshRefused {
        /// `jst` or `tplus`.
        api: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// A stored refresh token expires soon; once it has, the next refresh is refused.
    RefreshExpiring {
        api: String,
        expires_at: DateTime<Utc>,
    },
    /// The latest daily reconcile could not run.
    ReconcileFailed {
        day: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
        error: String,
    },
}

/// Differences a "books differ" message names, and explanations per difference.
pub const WORST_NAMED: usize = 3;
pub const EXPLANATIONS_NAMED: usize = 3;

impl Condition {
    /// The rule that fires.
    pub fn kind(&self) -> AlertKind {
        match self {
            Condition::DeadLetters { .. } => AlertKind::DeadLetters,
            Condition::NoWrites { .. } => AlertKind::NoWrites,
            Condition::CursorLag { .. } => AlertKind::CursorLag,
            Condition::QuotaExhausted { .. } => AlertKind::QuotaExhausted,
            Condition::AuthFailures { .. } => AlertKind::AuthFailures,
            Condition::StorageFull { .. } => AlertKind::StorageFull,
            Condition::BooksDiffer { .. } => AlertKind::BooksDiffer,
            Condition::ReconcileFailed { .. } => AlertKind::ReconcileFailed,
            Condition::ChangedAfterWrite { .. } => AlertKind::ChangedAfterWrite,
            Condition::RefreshRefused { .. } => AlertKind::RefreshRefused,
            Condition::RefreshExpiring { .. } => AlertKind::RefreshExpiring,
        }
    }

    /// Identity of the alert across evaluations: what dedup and "resolved" hang on. Details
    /// (counts, lag) change while the key stays, so a growing DLQ is still one alert.
    pub fn key(&self) -> String {
        match self {
            // Task names come from the configuration, so these keys stay bounded too.
            Condition::CursorLag { task, .. } => format!("cursor_lag.{task}"),
            // Stores are the topology's fixed streams and buckets.
            Condition::StorageFull { store, .. } => format!("storage_full.{store}"),
            // One per order reported (bounded by the dead letters pending).
            Condition::ChangedAfterWrite { io_id, .. } => format!("changed_after_write.{io_id}"),
            // `jst` or `tplus`.
            Condition::RefreshRefused { api, .. } => format!("refresh_refused.{api}"),
            Condition::RefreshExpiring { api, .. } => format!("refresh_expiring.{api}"),
            other => other.kind().as_str().to_string(),
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Condition::DeadLetters { .. }
            | Condition::CursorLag { .. }
            | Condition::StorageFull { .. }
            | Condition::ReconcileFailed { .. }
            | Condition::RefreshExpiring { .. } => Severity::Warning,
            Condition::NoWrites { .. }
            | Condition::QuotaExhausted { .. }
            | Condition::AuthFailures { .. }
            | Condition::BooksDiffer { .. }
            | Condition::ChangedAfterWrite { .. }
            | Condition::RefreshRefused { .. } => Severity::Critical,
        }
    }

    /// Machine-readable facts for the generic JSON format.
    pub fn details(&self) -> Value {
        match self {
            Condition::DeadLetters { total, by_reason } => {
                json!({ "total": total, "by_reason": by_reason })
            }
            Condition::NoWrites {
                stalled_since,
                last_write,
                waiting,
            } => json!({
                "stalled_since": rfc3339(*stalled_since),
                "last_write": last_write.map(rfc3339),
                "waiting_vouchers": waiting,
            }),
            Condition::CursorLag {
                task,
                lag_secs,
                next_start,
            } => json!({ "task": task, "lag_secs": lag_secs, "next_start": next_start }),
            Condition::QuotaExhausted { at } => json!({ "quota_exhausted_at": rfc3339(*at) }),
            Condition::AuthFailures { count, last_at } => json!({
                "consecutive_failures": count,
                "last_failure_at": last_at.map(rfc3339),
            }),
            Condition::StorageFull {
                store,
                bytes,
                max_bytes,
            } => json!({ "store": store, "bytes": bytes, "max_bytes": max_bytes }),
            Condition::BooksDiffer {
                day,
                from,
                to,
                differing_rows,
                qty_difference,
                amount_difference,
                worst,
            } => json!({
                "day": day, "from": from, "to": to,
                "differing_rows": differing_rows,
                "qty_difference": qty_difference,
                "amount_difference": amount_difference,
                "worst": worst,
            }),
            Condition::ReconcileFailed {
                day,
                from,
                to,
                error,
            } => json!({ "day": day, "from": from, "to": to, "error": error }),
            Condition::ChangedAfterWrite {
                io_id,
                voucher,
                summary,
                letter,
            } => json!({
                "io_id": io_id, "voucher": voucher, "change": summary, "dead_letter": letter,
            }),
            Condition::RefreshRefused { api, reason, at } => {
                json!({ "api": api, "reason": reason, "at": rfc3339(*at) })
            }
            Condition::RefreshExpiring { api, expires_at } => {
                json!({ "api": api, "expires_at": rfc3339(*expires_at) })
            }
        }
    }
}

/// Orders named at most by the "changed after the write" alerts of one evaluation.
pub const CHANGED_NAMED: usize = 20;

/// One alert per pending `changed_after_write` letter (its id and payload), newest letters
/// first, at most [`CHANGED_NAMED`].
pub fn changed_after_write(letters: &[(u64, Value, String)]) -> Vec<Condition> {
    let mut letters: Vec<_> = letters.iter().collect();
    letters.sort_by_key(|(id, ..)| std::cmp::Reverse(*id));
    letters
        .into_iter()
        .filter_map(|(id, payload, error)| {
            let io_id = j2t_domain::io_id_of(payload)?;
            Some(Condition::ChangedAfterWrite {
                io_id,
                voucher: payload["voucher"].as_str().unwrap_or_default().to_string(),
                summary: error
                    .split_once(": ")
                    .map_or(error.clone(), |(_, s)| s.to_string()),
                letter: *id,
            })
        })
        .take(CHANGED_NAMED)
        .collect()
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The thresholds from `[monitor]`. A threshold of 0 switches its rule off: "alert when the
/// cursor is 0 s behind" would fire forever, so 0 cannot mean anything else useful.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub no_write: Option<Duration>,
    pub cursor_lag_secs: Option<u64>,
    pub auth_failures: Option<u64>,
    /// How recent a "quota exhausted" must be to count as now.
    pub quota_window: Duration,
    /// Share of a byte limit (percent) at which a stream or bucket alerts.
    pub storage_percent: Option<u8>,
    /// How long before a refresh token expires the warning starts.
    pub refresh_warn: Option<Duration>,
}

impl Thresholds {
    pub fn from_config(cfg: &MonitorConfig) -> Self {
        let minutes = i64::try_from(cfg.no_write_minutes).unwrap_or(i64::MAX / 120);
        let every = i64::try_from(cfg.evaluate_every_secs).unwrap_or(i64::MAX / 4);
        Self {
            no_write: (cfg.no_write_minutes > 0).then(|| Duration::minutes(minutes)),
            cursor_lag_secs: (cfg.cursor_lag_alert_secs > 0).then_some(cfg.cursor_lag_alert_secs),
            auth_failures: (cfg.auth_failures_alert > 0).then_some(cfg.auth_failures_alert),
            // The writer records only when it hits the quota; two evaluation rounds (or five
            // minutes on a fast schedule) keep one hit from flickering in and out.
            quota_window: Duration::seconds(every.saturating_mul(2)).max(Duration::minutes(5)),
            storage_percent: (cfg.storage_alert_percent > 0).then_some(cfg.storage_alert_percent),
            refresh_warn: (cfg.refresh_token_warn_days > 0).then(|| {
                Duration::days(i64::try_from(cfg.refresh_token_warn_days).unwrap_or(36_500))
            }),
        }
    }
}

/// What the rules remember between snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    /// Since when vouchers have been waiting, as far as the monitor knows (reset when none
    /// wait).
    pub backlog_since: Option<DateTime<Utc>>,
    /// Whether a snapshot was evaluated before: a backlog in the first one may be old.
    pub started: bool,
}

/// The conditions firing in `status` at `now`, ordered by key.
pub fn evaluate(
    status: &PipelineStatus,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
    memory: &mut Memory,
) -> Vec<Condition> {
    let mut firing = Vec::new();
    firing.extend(dead_letters(status));
    firing.extend(no_writes(status, now, thresholds, memory));
    firing.extend(cursor_lag(status, now, thresholds));
    firing.extend(quota_exhausted(status, now, thresholds));
    firing.extend(auth_failures(status, thresholds));
    firing.extend(refresh_refused(status));
    firing.extend(refresh_expiring(status, now, thresholds));
    firing.sort_by_key(Condition::key);
    memory.started = true;
    firing
}

/// Streams and buckets at or over the threshold share of their byte limit (a separate input:
/// the usage comes from the stream infos, not the pipeline snapshot).
pub fn storage(usage: &[StorageUsage], thresholds: &Thresholds) -> Vec<Condition> {
    let Some(percent) = thresholds.storage_percent else {
        return Vec::new();
    };
    usage
        .iter()
        .filter(|u| u.ratio().is_some_and(|r| r * 100.0 >= f64::from(percent)))
        .map(|u| Condition::StorageFull {
            store: u.store.clone(),
            bytes: u.bytes,
            max_bytes: u.max_bytes,
        })
        .collect()
}

/// The daily reconcile's alerts, from the latest run and the latest that compared the books
/// (a separate input: they come from the reconcile bucket). A failed run leaves "books
/// differ" as the last comparison said; a later equal run resolves both.
pub fn books(
    latest: Option<&crate::books::record::RunRecord>,
    checked: Option<&crate::books::record::RunRecord>,
) -> Vec<Condition> {
    use crate::books::record::RunState;
    let mut firing = Vec::new();
    if let Some(run) = checked.filter(|r| r.state == RunState::Differ)
        && let Some(outcome) = &run.outcome
    {
        firing.push(Condition::BooksDiffer {
            day: run.day,
            from: run.from,
            to: run.to,
            differing_rows: outcome.differing_rows,
            qty_difference: outcome.qty_difference,
            amount_difference: outcome.amount_difference,
            worst: outcome
                .differences
                .iter()
                .take(WORST_NAMED)
                .map(|d| Difference {
                    row: d.row.clone(),
                    explanations: d
                        .explanations
                        .iter()
                        .take(EXPLANATIONS_NAMED)
                        .cloned()
                        .collect(),
                })
                .collect(),
        });
    }
    if let Some(run) = latest.filter(|r| r.state == RunState::Failed) {
        firing.push(Condition::ReconcileFailed {
            day: run.day,
            from: run.from,
            to: run.to,
            error: run.error.clone().unwrap_or_default(),
        });
    }
    firing
}

fn dead_letters(status: &PipelineStatus) -> Option<Condition> {
    let total = status.dead_letters_total();
    (total > 0).then(|| Condition::DeadLetters {
        total,
        by_reason: status
            .dead_letters
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (k.to_string(), *n))
            .collect(),
    })
}

/// Stalled means: vouchers wait, and neither a write nor the backlog's appearance happened
/// in the last `no_write` period. Measuring from the later of the two keeps a quiet night
/// (last write hours ago) from alerting the moment the morning's first voucher arrives;
/// measuring from the backlog's appearance covers a pipeline that never wrote anything.
/// A backlog already there when the monitor starts is assumed to date from the last write,
/// so a restarted monitor does not wait a whole period to report a stall that it missed.
fn no_writes(
    status: &PipelineStatus,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
    memory: &mut Memory,
) -> Option<Condition> {
    let waiting = status.vouchers.backlog + status.vouchers.in_flight;
    if waiting == 0 {
        memory.backlog_since = None;
        return None;
    }
    let last_write = status.written.last_at;
    let appeared = match (memory.started, last_write) {
        (false, Some(write)) => write,
        _ => now,
    };
    let seen = *memory.backlog_since.get_or_insert(appeared);
    let limit = thresholds.no_write?;
    let stalled_since = last_write.map_or(seen, |w| w.max(seen));
    (now - stalled_since >= limit).then_some(Condition::NoWrites {
        stalled_since,
        last_write,
        waiting,
    })
}

/// Tasks further behind than the threshold, except those catching up: a backfill whose
/// fetcher recorded progress (a window started or closed) within the threshold is doing
/// what it was asked; one that stopped progressing fires.
fn cursor_lag(
    status: &PipelineStatus,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Vec<Condition> {
    let Some(limit) = thresholds.cursor_lag_secs else {
        return Vec::new();
    };
    let catching_up = |c: &&CursorStatus| {
        c.backfill.as_ref().is_some_and(|b| {
            !b.live
                && u64::try_from((now - b.progress.updated_at).num_seconds())
                    .is_ok_and(|quiet| quiet <= limit)
        })
    };
    status
        .cursors
        .iter()
        .filter(|c| u64::try_from(c.lag_secs).is_ok_and(|lag| lag > limit))
        .filter(|c| !catching_up(c))
        .map(|c| Condition::CursorLag {
            task: c.task.clone(),
            lag_secs: c.lag_secs,
            next_start: c.next_start.clone(),
        })
        .collect()
}

fn quota_exhausted(
    status: &PipelineStatus,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Option<Condition> {
    let at = status.signals.quota_exhausted_at?;
    // A timestamp slightly ahead of ours (another host's clock) still counts as recent.
    (now - at < thresholds.quota_window).then_some(Condition::QuotaExhausted { at })
}

fn auth_failures(status: &PipelineStatus, thresholds: &Thresholds) -> Option<Condition> {
    let limit = thresholds.auth_failures?;
    let count = status.signals.auth_failures;
    (count >= limit).then_some(Condition::AuthFailures {
        count,
        last_at: status.signals.auth_failed_at,
    })
}

fn refresh_refused(status: &PipelineStatus) -> Vec<Condition> {
    status
        .signals
        .refresh_refused
        .iter()
        .map(|(api, refused)| Condition::RefreshRefused {
            api: api.clone(),
            reason: refused.reason.clone(),
            at: refused.at,
        })
        .collect()
}

fn refresh_expiring(
    status: &PipelineStatus,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Vec<Condition> {
    let Some(warn) = thresholds.refresh_warn else {
        return Vec::new();
    };
    status
        .refresh_expiry
        .iter()
        .filter(|(_, at)| **at - now < warn)
        .map(|(api, at)| Condition::RefreshExpiring {
            api: api.clone(),
            expires_at: *at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use j2t_stores::{Signals, StageStatus};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid time")
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            no_write: Some(Duration::minutes(30)),
            cursor_lag_secs: Some(3600),
            auth_failures: Some(3),
            quota_window: Duration::minutes(5),
            storage_percent: Some(80),
            refresh_warn: Some(Duration::days(7)),
        }
    }

    fn keys(firing: &[Condition]) -> Vec<String> {
        firing.iter().map(Condition::key).collect()
    }

    fn waiting(backlog: u64, last_write: Option<DateTime<Utc>>) -> PipelineStatus {
        PipelineStatus {
            vouchers: StageStatus {
                backlog,
                ..Default::default()
            },
            written: StageStatus {
                last_at: last_write,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn storage_fires_per_store_at_the_threshold_share_of_its_limit() {
        let usage = |store: &str, bytes, max_bytes| StorageUsage {
            store: store.into(),
            bytes,
            max_bytes,
        };
        let stores = [
            usage("J2T_ORDERS", 79, 100),
            usage("J2T_VOUCHERS", 80, 100),
            usage("j2t_seen", 100, 100),
            usage("J2T_DLQ", 1_000, 0),
        ];
        let firing = storage(&stores, &thresholds());
        assert_eq!(
            keys(&firing),
            ["storage_full.J2T_VOUCHERS", "storage_full.j2t_seen"]
        );
        assert_eq!(firing[0].severity(), Severity::Warning);
        assert_eq!(firing[0].details()["max_bytes"], 100);
        let off = Thresholds {
            storage_percent: None,
            ..thresholds()
        };
        assert!(storage(&stores, &off).is_empty());
    }

    #[test]
    fn the_books_alerts_follow_the_latest_runs() {
        use crate::books::record::tests::{differing_report, equal_report, finished_run};
        let differ = finished_run("2026-12-01", Ok(&differing_report()));
        let equal = finished_run("2026-12-02", Ok(&equal_report()));
        let failed = finished_run("2026-12-02", Err("T+: down".into()));

        let firing = books(Some(&differ), Some(&differ));
        assert_eq!(keys(&firing), ["books_differ"]);
        assert_eq!(firing[0].severity(), Severity::Critical);
        let details = firing[0].details();
        assert_eq!(details["differing_rows"], 2);
        assert_eq!(details["worst"][0]["sku"], "SKU-A");
        assert_eq!(details["worst"][0]["explanations"][0]["io_id"], 101);
        assert_eq!(
            details["worst"][0]["explanations"][0]["whereabouts"]["kind"],
            "missing_in_tplus"
        );

        // A failed run: "could not run" fires, and the books still differ as last seen.
        assert_eq!(
            keys(&books(Some(&failed), Some(&differ))),
            ["books_differ", "reconcile_failed"]
        );
        // A later equal run resolves both; never run fires nothing.
        assert!(books(Some(&equal), Some(&equal)).is_empty());
        assert!(books(None, None).is_empty());
    }

    #[test]
    fn a_books_alert_names_only_the_worst_differences() {
        use crate::books::record::RunRecord;
        use crate::books::record::tests::{date, differing_report, missing};
        let mut report = differing_report();
        let first = report.differences[0].clone();
        report.differences = (0..10)
            .map(|_| Difference {
                explanations: (0..10).map(|i| missing(i, "J2T-X")).collect(),
                ..first.clone()
            })
            .collect();
        let run = RunRecord::claim(
            date("2026-12-01"),
            date("2026-11-24"),
            date("2026-11-30"),
            "h".into(),
            t(0),
        )
        .finish(Ok(&report), t(60));
        let firing = books(Some(&run), Some(&run));
        let Condition::BooksDiffer {
            worst,
            differing_rows,
            ..
        } = &firing[0]
        else {
            panic!("{firing:?}");
        };
        assert_eq!(*differing_rows, 10);
        assert_eq!(worst.len(), WORST_NAMED);
        assert!(
            worst
                .iter()
                .all(|d| d.explanations.len() == EXPLANATIONS_NAMED)
        );
    }

    #[test]
    fn each_order_changed_after_the_write_is_its_own_alert() {
        let letters = [
            (
                4,
                json!({"io_id": 7, "voucher": "JT1"}),
                "order 7 changed after it was written in voucher JT1: A qty 3 → 0".to_string(),
            ),
            (
                5,
                json!({"io_id": 8, "voucher": "JT2"}),
                "order 8 …: B qty 1 → 2".to_string(),
            ),
            (6, json!({"no": "io_id"}), "unreadable".to_string()),
        ];
        let firing = changed_after_write(&letters);
        assert_eq!(
            keys(&firing),
            ["changed_after_write.8", "changed_after_write.7"]
        );
        assert_eq!(
            firing[1],
            Condition::ChangedAfterWrite {
                io_id: 7,
                voucher: "JT1".into(),
                summary: "A qty 3 → 0".into(),
                letter: 4,
            }
        );
        assert_eq!(firing[1].severity(), Severity::Critical);
    }

    #[test]
    fn a_healthy_pipeline_fires_nothing() {
        let mut memory = Memory::default();
        assert!(evaluate(&PipelineStatus::default(), t(0), &thresholds(), &mut memory).is_empty());
    }

    #[test]
    fn dead_letters_fire_as_one_alert_with_counts_by_reason() {
        let mut status = PipelineStatus::default();
        let kind = |s: &str| s.parse::<j2t_stores::DeadLetterKind>().expect("kind");
        status.dead_letters.insert(kind("writer.rejected"), 48);
        status.dead_letters.insert(kind("transformer.bad_order"), 2);
        let firing = evaluate(&status, t(0), &thresholds(), &mut Memory::default());
        assert_eq!(keys(&firing), ["dead_letters"]);
        assert_eq!(
            firing[0].details(),
            json!({"total": 50, "by_reason": {"transformer.bad_order": 2, "writer.rejected": 48}})
        );
        assert_eq!(firing[0].severity(), Severity::Warning);
    }

    #[test]
    fn no_writes_fires_only_after_the_period_since_the_last_write() {
        let mut memory = Memory::default();
        let th = thresholds();
        // The backlog was already there when the monitor started; last write 20 min ago.
        let status = waiting(5, Some(t(-20 * 60)));
        assert!(evaluate(&status, t(0), &th, &mut memory).is_empty());
        // 29:59 after the last write: not yet. 30:00: fires.
        assert!(evaluate(&status, t(10 * 60 - 1), &th, &mut memory).is_empty());
        let firing = evaluate(&status, t(10 * 60), &th, &mut memory);
        assert_eq!(keys(&firing), ["no_writes"]);
        assert_eq!(firing[0].severity(), Severity::Critical);
    }

    #[test]
    fn no_writes_measures_from_the_backlog_when_nothing_was_ever_written() {
        let mut memory = Memory::default();
        let th = thresholds();
        let status = waiting(3, None);
        assert!(evaluate(&status, t(0), &th, &mut memory).is_empty());
        assert_eq!(memory.backlog_since, Some(t(0)));
        assert!(evaluate(&status, t(29 * 60), &th, &mut memory).is_empty());
        let firing = evaluate(&status, t(30 * 60), &th, &mut memory);
        assert_eq!(
            firing,
            [Condition::NoWrites {
                stalled_since: t(0),
                last_write: None,
                waiting: 3
            }]
        );
    }

    #[test]
    fn a_new_backlog_after_a_quiet_night_does_not_fire_at_once() {
        let mut memory = Memory::default();
        let th = thresholds();
        // Nothing waits: the backlog clock is off, whatever the last write.
        assert!(evaluate(&waiting(0, Some(t(-8 * 3600))), t(0), &th, &mut memory).is_empty());
        assert_eq!(memory.backlog_since, None);
        // The morning's first voucher: last write 8 h ago, but the backlog is brand new.
        let morning = waiting(1, Some(t(-8 * 3600)));
        assert!(evaluate(&morning, t(60), &th, &mut memory).is_empty());
        assert!(evaluate(&morning, t(60 + 29 * 60), &th, &mut memory).is_empty());
        assert_eq!(
            keys(&evaluate(&morning, t(60 + 30 * 60), &th, &mut memory)),
            ["no_writes"]
        );
        // The backlog drains: resets, and a later backlog starts a fresh clock.
        assert!(evaluate(&waiting(0, Some(t(5000))), t(5000), &th, &mut memory).is_empty());
        assert_eq!(memory.backlog_since, None);
    }

    #[test]
    fn a_standing_backlog_with_steady_writes_does_not_fire() {
        let mut memory = Memory::default();
        let th = thresholds();
        for minute in 0..120 {
            let now = t(minute * 60);
            let status = waiting(500, Some(now - Duration::seconds(20)));
            assert!(evaluate(&status, now, &th, &mut memory).is_empty());
        }
    }

    #[test]
    fn in_flight_vouchers_count_as_waiting() {
        let mut memory = Memory::default();
        let mut status = waiting(0, None);
        status.vouchers.in_flight = 2;
        memory.started = true;
        evaluate(&status, t(0), &thresholds(), &mut memory);
        assert_eq!(memory.backlog_since, Some(t(0)));
    }

    #[test]
    fn cursor_lag_fires_per_task_over_the_threshold() {
        let cursor = |task: &str, lag_secs| CursorStatus {
            task: task.into(),
            next_start: "2027-01-01 00:00:00".into(),
            pending: None,
            lag_secs,
            backfill: None,
        };
        let status = PipelineStatus {
            cursors: vec![
                cursor("default", 3601),
                cursor("shop-b", 3600),
                cursor("shop-c", 90_000),
            ],
            ..Default::default()
        };
        let firing = evaluate(&status, t(0), &thresholds(), &mut Memory::default());
        assert_eq!(keys(&firing), ["cursor_lag.default", "cursor_lag.shop-c"]);
        assert_eq!(firing[0].details()["lag_secs"], 3601);
    }

    #[test]
    fn a_catch_up_that_progresses_does_not_fire_and_one_that_stalls_does() {
        let behind = |backfill| CursorStatus {
            task: "default".into(),
            next_start: "2027-01-01 00:00:00".into(),
            pending: None,
            lag_secs: 30 * 86_400,
            backfill,
        };
        let progress = |updated_at, remaining| {
            let mut b = j2t_stores::Backfill::begin(
                chrono::NaiveDate::from_ymd_opt(2027, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .expect("valid"),
                chrono::NaiveDate::from_ymd_opt(2027, 1, 31)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .expect("valid"),
                updated_at,
            );
            b.remaining_requests = Some(remaining);
            Some(j2t_stores::BackfillStatus::from(b))
        };
        let fires = |cursor| {
            let status = PipelineStatus {
                cursors: vec![cursor],
                ..Default::default()
            };
            !evaluate(&status, t(0), &thresholds(), &mut Memory::default()).is_empty()
        };
        // Progress recorded 10 minutes ago, an hour being the threshold: catching up.
        assert!(!fires(behind(progress(t(-600), 500))));
        assert!(!fires(behind(progress(t(-3600), 500))));
        // No progress for over an hour, no record at all, or a record that says live.
        assert!(fires(behind(progress(t(-3601), 500))));
        assert!(fires(behind(None)));
        assert!(fires(behind(progress(t(-600), 0))));
    }

    #[test]
    fn quota_exhausted_fires_while_recent() {
        let status = PipelineStatus {
            signals: Signals {
                quota_exhausted_at: Some(t(0)),
                ..Default::default()
            },
            ..Default::default()
        };
        let th = thresholds();
        let mut memory = Memory::default();
        assert_eq!(
            keys(&evaluate(&status, t(4 * 60), &th, &mut memory)),
            ["quota_exhausted"]
        );
        assert!(evaluate(&status, t(5 * 60), &th, &mut memory).is_empty());
    }

    #[test]
    fn quota_window_is_two_rounds_or_five_minutes() {
        let mut cfg = j2t_config::Config::load_with_env(None, Some(Default::default()))
            .expect("defaults load")
            .monitor;
        cfg.evaluate_every_secs = 15;
        assert_eq!(
            Thresholds::from_config(&cfg).quota_window,
            Duration::minutes(5)
        );
        cfg.evaluate_every_secs = 600;
        assert_eq!(
            Thresholds::from_config(&cfg).quota_window,
            Duration::minutes(20)
        );
        cfg.cursor_lag_alert_secs = 0;
        cfg.no_write_minutes = 0;
        let off = Thresholds::from_config(&cfg);
        assert_eq!((off.cursor_lag_secs, off.no_write), (None, None));
    }

    #[test]
    fn auth_failures_fire_at_the_threshold() {
        let status = |n| PipelineStatus {
            signals: Signals {
                auth_failures: n,
                auth_failed_at: Some(t(0)),
                ..Default::default()
            },
            ..Default::default()
        };
        let th = thresholds();
        let mut memory = Memory::default();
        assert!(evaluate(&status(2), t(0), &th, &mut memory).is_empty());
        assert_eq!(
            keys(&evaluate(&status(3), t(0), &th, &mut memory)),
            ["auth_failures"]
        );
    }

    #[test]
    fn zero_thresholds_switch_rules_off() {
        let th = Thresholds {
            no_write: None,
            cursor_lag_secs: None,
            auth_failures: None,
            quota_window: Duration::minutes(5),
            storage_percent: None,
            refresh_warn: None,
        };
        let mut status = waiting(5, None);
        status.signals.auth_failures = 100;
        status.cursors.push(CursorStatus {
            task: "default".into(),
            next_start: String::new(),
            pending: None,
            lag_secs: 1_000_000,
            backfill: None,
        });
        let mut memory = Memory::default();
        assert!(evaluate(&status, t(0), &th, &mut memory).is_empty());
        assert!(evaluate(&status, t(1_000_000), &th, &mut memory).is_empty());
    }

    #[test]
    fn a_refused_refresh_fires_and_an_expiring_refresh_token_warns_in_time() {
        let mut status = waiting(0, None);
        status.signals.refresh_refused.insert(
            "tplus".into(),
            j2t_stores::RefreshRefused {
                reason: "HTTP 401, code 50000: invalid refresh token".into(),
                at: t(0),
            },
        );
        status.refresh_expiry.insert("jst".into(), t(8 * 86_400));
        status.refresh_expiry.insert("tplus".into(), t(6 * 86_400));
        let firing = evaluate(&status, t(0), &thresholds(), &mut Memory::default());
        let keys = keys(&firing);
        assert!(
            keys.contains(&"refresh_refused.tplus".to_string()),
            "{keys:?}"
        );
        assert!(
            keys.contains(&"refresh_expiring.tplus".to_string()),
            "{keys:?}"
        );
        assert!(
            !keys.contains(&"refresh_expiring.jst".to_string()),
            "{keys:?}"
        );
        let refused = firing
            .iter()
            .find(|c| c.kind() == AlertKind::RefreshRefused)
            .expect("refused");
        assert_eq!(refused.severity(), Severity::Critical);
        // Off: no warning however close the expiry.
        let mut off = thresholds();
        off.refresh_warn = None;
        let firing = evaluate(&status, t(0), &off, &mut Memory::default());
        assert!(
            firing
                .iter()
                .all(|c| c.kind() != AlertKind::RefreshExpiring)
        );
    }
}
