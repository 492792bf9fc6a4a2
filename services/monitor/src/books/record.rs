//! What the bucket keeps of a run: who claimed it, when, and its result in brief (totals,
//! the worst differences with their first explanations). A full report can hold thousands of
//! rows; a KV value must stay well under NATS's 1 MiB message limit, so only the worst
//! differences are kept (`jst2tplus reconcile` shows every row).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use j2t_reconcile::{Difference, Report, Totals};
use serde::{Deserialize, Serialize};

/// Differences kept per run, worst first.
pub const KEPT_DIFFERENCES: usize = 50;
/// Explanations kept per difference.
pub const KEPT_EXPLANATIONS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Claimed; not finished (yet).
    Running,
    /// The books match.
    Equal,
    /// Some rows differ.
    Differ,
    /// The books could not be compared (`error` says why).
    Failed,
}

impl RunState {
    /// Every finished state: a bounded metric label.
    pub const FINISHED: [RunState; 3] = [RunState::Equal, RunState::Differ, RunState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Equal => "equal",
            RunState::Differ => "differ",
            RunState::Failed => "failed",
        }
    }

    /// The books were compared (equal or not).
    pub fn checked(self) -> bool {
        matches!(self, RunState::Equal | RunState::Differ)
    }
}

fn one() -> u32 {
    1
}

/// One day's run of the daily reconcile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The JST day it ran for.
    pub day: NaiveDate,
    /// The voucher dates it covers, inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub state: RunState,
    /// Which monitor claimed it (host and pid), for an operator wondering.
    pub owner: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Runs that day so far, this one included (a failed run is tried again).
    #[serde(default = "one")]
    pub attempts: u32,
    /// Why it could not run.
    pub error: Option<String>,
    /// What the report said, when there was one.
    pub outcome: Option<Outcome>,
}

/// A report in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub totals: Totals,
    /// Rows that differ (all of them, not only those kept).
    pub differing_rows: u64,
    /// Σ |T+ − JST| over the differing rows.
    pub qty_difference: f64,
    pub amount_difference: f64,
    pub jst_requests: u64,
    pub tplus_requests: u64,
    pub elapsed_ms: u64,
    /// The worst differences, at most [`KEPT_DIFFERENCES`], each with at most
    /// [`KEPT_EXPLANATIONS`] explanations.
    pub differences: Vec<Difference>,
}

impl Outcome {
    pub fn from_report(report: &Report) -> Self {
        let sum = |f: fn(&Difference) -> f64| report.differences.iter().map(f).sum::<f64>();
        Self {
            totals: report.totals.clone(),
            differing_rows: report.differences.len() as u64,
            qty_difference: sum(|d| d.row.qty_diff().abs()),
            amount_difference: sum(|d| d.row.amount_diff().abs()),
            jst_requests: report.jst_requests,
            tplus_requests: report.tplus_requests,
            elapsed_ms: report.elapsed_ms,
            differences: report
                .differences
                .iter()
                .take(KEPT_DIFFERENCES)
                .map(|d| Difference {
                    row: d.row.clone(),
                    explanations: d
                        .explanations
                        .iter()
                        .take(KEPT_EXPLANATIONS)
                        .cloned()
                        .collect(),
                })
                .collect(),
        }
    }
}

impl RunRecord {
    /// The claim written before running.
    pub fn claim(
        day: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
        owner: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            day,
            from,
            to,
            state: RunState::Running,
            owner,
            started_at: now,
            finished_at: None,
            attempts: 1,
            error: None,
            outcome: None,
        }
    }

    /// The claim of one more attempt after `previous` (failed, or abandoned by its monitor).
    pub fn again(self, previous: &RunRecord) -> Self {
        Self {
            attempts: previous.attempts.saturating_add(1),
            ..self
        }
    }

    /// The claim finished with the engine's answer.
    pub fn finish(self, result: Result<&Report, String>, now: DateTime<Utc>) -> Self {
        let (state, error, outcome) = match result {
            Ok(report) if report.equal() => {
                (RunState::Equal, None, Some(Outcome::from_report(report)))
            }
            Ok(report) => (RunState::Differ, None, Some(Outcome::from_report(report))),
            Err(error) => (RunState::Failed, Some(error), None),
        };
        Self {
            state,
            finished_at: Some(now),
            error,
            outcome,
            ..self
        }
    }

    pub fn duration(&self) -> Option<Duration> {
        self.finished_at.map(|f| f - self.started_at)
    }
}

/// One voucher date as the console shows it: the latest run covering it, and its
/// differences on that date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayView {
    pub date: NaiveDate,
    /// `equal` or `differ`.
    pub state: RunState,
    /// The run it comes from.
    pub run_day: NaiveDate,
    pub checked_at: Option<DateTime<Utc>>,
    pub differences: Vec<Difference>,
    /// The run kept only its worst differences: this date may have more than shown.
    pub truncated: bool,
}

/// The last result per voucher date, newest date first: each date takes the latest run (by
/// day) that compared the books over it. Failed and running runs compare nothing.
pub fn days(records: &[RunRecord]) -> Vec<DayView> {
    let mut checked: Vec<&RunRecord> = records.iter().filter(|r| r.state.checked()).collect();
    checked.sort_by_key(|r| std::cmp::Reverse(r.day));
    let mut views: std::collections::BTreeMap<NaiveDate, DayView> = Default::default();
    for record in checked {
        let Some(outcome) = &record.outcome else {
            continue;
        };
        let kept_all = outcome.differences.len() as u64 == outcome.differing_rows;
        for date in record.from.iter_days().take_while(|d| *d <= record.to) {
            if views.contains_key(&date) {
                continue;
            }
            let differences: Vec<Difference> = outcome
                .differences
                .iter()
                .filter(|d| d.row.date == date)
                .cloned()
                .collect();
            // Not every difference was kept: a date with none shown may still differ.
            let (state, truncated) = match (differences.is_empty(), kept_all) {
                (true, true) => (RunState::Equal, false),
                (false, _) => (RunState::Differ, !kept_all),
                (true, false) => (RunState::Differ, true),
            };
            views.insert(
                date,
                DayView {
                    date,
                    state,
                    run_day: record.day,
                    checked_at: record.finished_at,
                    differences,
                    truncated,
                },
            );
        }
    }
    views.into_values().rev().collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use j2t_reconcile::{Explanation, Row, Whereabouts};

    pub fn date(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    pub fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("valid time")
    }

    /// The run of JST day `day` over 2026-11-24..=30, claimed at `t(0)` and finished at
    /// `t(60)` with `report`.
    pub fn finished_run(day: &str, report: Result<&Report, String>) -> RunRecord {
        RunRecord::claim(
            date(day),
            date("2026-11-24"),
            date("2026-11-30"),
            "h".into(),
            t(0),
        )
        .finish(report, t(60))
    }

    pub fn row(day: &str, sku: &str, jst: f64, tplus: f64) -> Row {
        Row {
            date: date(day),
            warehouse: "WH01".into(),
            sku: sku.into(),
            jst_qty: jst,
            jst_amount: jst * 10.0,
            tplus_qty: tplus,
            tplus_amount: tplus * 10.0,
        }
    }

    pub fn missing(io_id: i64, voucher: &str) -> Explanation {
        Explanation {
            io_id: Some(io_id),
            voucher: Some(voucher.into()),
            whereabouts: Whereabouts::MissingInTplus,
            detail: format!("merged into {voucher}, which T+ does not have"),
        }
    }

    /// A report over 2026-11-24..30 where SKU-A of the 28th is missing in T+ (3 pieces) and
    /// SKU-B of the 29th has one piece too many.
    pub fn differing_report() -> Report {
        let rows = vec![
            row("2026-11-28", "SKU-A", 3.0, 0.0),
            row("2026-11-29", "SKU-B", 1.0, 2.0),
            row("2026-11-29", "SKU-C", 5.0, 5.0),
        ];
        let differences = vec![
            Difference {
                row: rows[0].clone(),
                explanations: vec![
                    missing(101, "J2T-20261128-WH01"),
                    missing(102, "J2T-20261128-WH01"),
                ],
            },
            Difference {
                row: rows[1].clone(),
                explanations: vec![Explanation {
                    io_id: Some(201),
                    voucher: Some("J2T-20261129-WH01".into()),
                    whereabouts: Whereabouts::ChangedAfterWrite,
                    detail: "changed in JST after it was written".into(),
                }],
            },
        ];
        Report {
            version: j2t_reconcile::REPORT_VERSION,
            from: date("2026-11-24"),
            to: date("2026-11-30"),
            task: None,
            rows,
            totals: Totals {
                jst_orders: 9,
                jst_qty: 9.0,
                jst_amount: 90.0,
                tplus_vouchers: 2,
                tplus_qty: 7.0,
                tplus_amount: 70.0,
            },
            differences,
            jst_requests: 4,
            tplus_requests: 6,
            started_at: t(0),
            elapsed_ms: 1234,
        }
    }

    pub fn equal_report() -> Report {
        Report {
            differences: Vec::new(),
            ..differing_report()
        }
    }

    fn record(day: &str, from: &str, to: &str, report: Result<&Report, String>) -> RunRecord {
        RunRecord::claim(date(day), date(from), date(to), "host 1".into(), t(0))
            .finish(report, t(60))
    }

    #[test]
    fn a_finished_run_keeps_the_report_in_brief() {
        let report = differing_report();
        let done = record("2026-12-01", "2026-11-24", "2026-11-30", Ok(&report));
        assert_eq!(done.state, RunState::Differ);
        assert_eq!(done.duration(), Some(Duration::seconds(60)));
        let outcome = done.outcome.expect("an outcome");
        assert_eq!(outcome.differing_rows, 2);
        assert!((outcome.qty_difference - 4.0).abs() < 1e-9);
        assert!((outcome.amount_difference - 40.0).abs() < 1e-9);
        assert_eq!(outcome.differences[0].explanations.len(), 2);

        let equal = record(
            "2026-12-01",
            "2026-11-24",
            "2026-11-30",
            Ok(&equal_report()),
        );
        assert_eq!(equal.state, RunState::Equal);
        let failed = record(
            "2026-12-01",
            "2026-11-24",
            "2026-11-30",
            Err("JST: timeout".into()),
        );
        assert_eq!(
            (failed.state, failed.error.as_deref()),
            (RunState::Failed, Some("JST: timeout"))
        );
        assert!(failed.outcome.is_none());
    }

    #[test]
    fn only_the_worst_differences_are_kept() {
        let mut report = differing_report();
        let one = report.differences[0].clone();
        report.differences = (0..KEPT_DIFFERENCES + 5)
            .map(|_| Difference {
                explanations: (0..KEPT_EXPLANATIONS as i64 + 3)
                    .map(|i| missing(i, "J2T-X"))
                    .collect(),
                ..one.clone()
            })
            .collect();
        let outcome = Outcome::from_report(&report);
        assert_eq!(outcome.differing_rows, (KEPT_DIFFERENCES + 5) as u64);
        assert_eq!(outcome.differences.len(), KEPT_DIFFERENCES);
        assert_eq!(outcome.differences[0].explanations.len(), KEPT_EXPLANATIONS);
        // Well under the 1 MiB a KV value may hold.
        let bytes = serde_json::to_vec(&outcome).expect("json").len();
        assert!(bytes < 256 * 1024, "{bytes} bytes");
    }

    #[test]
    fn each_date_shows_the_latest_run_that_compared_it() {
        let report = differing_report();
        let records = [
            // Today's run over the 24th..30th: the 28th and 29th differ.
            record("2026-12-01", "2026-11-24", "2026-11-30", Ok(&report)),
            // Yesterday's run, equal over 23rd..29th: only the 23rd is not covered by today's.
            record(
                "2026-11-30",
                "2026-11-23",
                "2026-11-29",
                Ok(&equal_report()),
            ),
            // A later failed run compares nothing.
            record(
                "2026-12-02",
                "2026-11-25",
                "2026-12-01",
                Err("T+: down".into()),
            ),
        ];
        let views = days(&records);
        let states: Vec<(String, &str, String)> = views
            .iter()
            .map(|v| (v.date.to_string(), v.state.as_str(), v.run_day.to_string()))
            .collect();
        let expect = |d: &str, s, r: &str| (d.to_string(), s, r.to_string());
        assert_eq!(
            states,
            [
                expect("2026-11-30", "equal", "2026-12-01"),
                expect("2026-11-29", "differ", "2026-12-01"),
                expect("2026-11-28", "differ", "2026-12-01"),
                expect("2026-11-27", "equal", "2026-12-01"),
                expect("2026-11-26", "equal", "2026-12-01"),
                expect("2026-11-25", "equal", "2026-12-01"),
                expect("2026-11-24", "equal", "2026-12-01"),
                expect("2026-11-23", "equal", "2026-11-30"),
            ]
        );
        let the_28th = &views[2];
        assert_eq!(the_28th.differences.len(), 1);
        assert_eq!(the_28th.differences[0].row.sku, "SKU-A");
        assert!(!the_28th.truncated);
    }

    #[test]
    fn a_date_without_kept_differences_of_a_truncated_run_is_not_shown_equal() {
        let mut report = differing_report();
        report.differences.truncate(1);
        let mut done = record("2026-12-01", "2026-11-24", "2026-11-30", Ok(&report));
        if let Some(outcome) = done.outcome.as_mut() {
            outcome.differing_rows = 200;
        }
        let views = days(&[done]);
        assert!(
            views
                .iter()
                .all(|v| v.state == RunState::Differ && v.truncated)
        );
    }
}
