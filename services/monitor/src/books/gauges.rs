//! The daily reconcile's result as Prometheus gauges. Every monitor exports them from the
//! bucket (not only the one that ran it), so any replica scraped tells the same. Labels: none
//! but the bounded run result.

use super::record::{RunRecord, RunState};

/// The gauges' values; `None`: not known (never run), so not exported at all rather than
/// as a misleading 0 or 1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    pub books_equal: Option<f64>,
    pub differing_rows: Option<f64>,
    pub qty_difference: Option<f64>,
    pub amount_difference: Option<f64>,
    pub last_checked: Option<f64>,
    pub last_run: Option<f64>,
    pub last_run_ok: Option<f64>,
    pub last_run_duration: Option<f64>,
}

/// From the latest run and the latest that compared the books.
pub fn values(latest: Option<&RunRecord>, checked: Option<&RunRecord>) -> Values {
    let mut values = Values::default();
    if let Some(record) = checked
        && let Some(outcome) = &record.outcome
    {
        let equal = record.state == RunState::Equal;
        values.books_equal = Some(if equal { 1.0 } else { 0.0 });
        values.differing_rows = Some(outcome.differing_rows as f64);
        values.qty_difference = Some(outcome.qty_difference);
        values.amount_difference = Some(outcome.amount_difference);
        values.last_checked = record.finished_at.map(|at| at.timestamp() as f64);
    }
    if let Some(record) = latest
        && let Some(at) = record.finished_at
    {
        values.last_run = Some(at.timestamp() as f64);
        values.last_run_ok = Some(if record.state == RunState::Failed {
            0.0
        } else {
            1.0
        });
        values.last_run_duration = record
            .duration()
            .map(|d| d.num_milliseconds() as f64 / 1000.0);
    }
    values
}

/// Sets the gauges known; an unknown one is not even registered (a registered gauge renders
/// as 0 until set, which would read as "books differ").
pub fn export(values: &Values) {
    if let Some(v) = values.books_equal {
        metrics::gauge!("j2t_reconcile_books_equal").set(v);
    }
    if let Some(v) = values.differing_rows {
        metrics::gauge!("j2t_reconcile_differing_rows").set(v);
    }
    if let Some(v) = values.qty_difference {
        metrics::gauge!("j2t_reconcile_qty_difference").set(v);
    }
    if let Some(v) = values.amount_difference {
        metrics::gauge!("j2t_reconcile_amount_difference").set(v);
    }
    if let Some(v) = values.last_checked {
        metrics::gauge!("j2t_reconcile_last_checked_timestamp_seconds").set(v);
    }
    if let Some(v) = values.last_run {
        metrics::gauge!("j2t_reconcile_last_run_timestamp_seconds").set(v);
    }
    if let Some(v) = values.last_run_ok {
        metrics::gauge!("j2t_reconcile_last_run_ok").set(v);
    }
    if let Some(v) = values.last_run_duration {
        metrics::gauge!("j2t_reconcile_last_run_duration_seconds").set(v);
    }
}

/// Shows every result's counter at 0 before the first run (so `increase()` sees the first).
pub fn register_runs() {
    for state in RunState::FINISHED {
        metrics::counter!("j2t_reconcile_runs_total", "result" => state.as_str()).increment(0);
    }
}

/// A run finished in this process: counted by result (`equal`, `differ`, `failed`).
pub fn count_run(state: RunState) {
    metrics::counter!("j2t_reconcile_runs_total", "result" => state.as_str()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::books::record::tests::{date, differing_report, equal_report, t};

    fn run(report: Result<&j2t_reconcile::Report, String>) -> RunRecord {
        RunRecord::claim(
            date("2026-12-01"),
            date("2026-11-24"),
            date("2026-11-30"),
            "h".into(),
            t(0),
        )
        .finish(report, t(90))
    }

    #[test]
    fn a_differing_report_gives_its_sizes() {
        let record = run(Ok(&differing_report()));
        let v = values(Some(&record), Some(&record));
        assert_eq!(v.books_equal, Some(0.0));
        assert_eq!(v.differing_rows, Some(2.0));
        assert_eq!(v.qty_difference, Some(4.0));
        assert_eq!(v.amount_difference, Some(40.0));
        assert_eq!(v.last_run_ok, Some(1.0));
        assert_eq!(v.last_run_duration, Some(90.0));
        assert_eq!(v.last_run, Some(t(90).timestamp() as f64));
        assert_eq!(v.last_checked, v.last_run);
    }

    #[test]
    fn an_equal_report_is_one_and_zeros() {
        let record = run(Ok(&equal_report()));
        let v = values(Some(&record), Some(&record));
        assert_eq!(v.books_equal, Some(1.0));
        assert_eq!(v.differing_rows, Some(0.0));
        assert_eq!(v.amount_difference, Some(0.0));
    }

    #[test]
    fn a_failed_run_keeps_the_last_comparison_and_says_it_failed() {
        let checked = run(Ok(&differing_report()));
        let failed = run(Err("T+: down".into()));
        let v = values(Some(&failed), Some(&checked));
        assert_eq!(v.last_run_ok, Some(0.0));
        assert_eq!(v.books_equal, Some(0.0));
        // Never run: nothing exported.
        assert_eq!(values(None, None), Values::default());
    }
}
