//! `/api/reconcile`: the daily reconcile for the console's Books panel — the last result per
//! voucher date (green or red, its differences) and the recent runs.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::api::{Api, ApiError, internal};
use crate::books::record::{self, DayView, RunRecord, RunState};
use crate::books::store::Books;

/// What the panel needs to know of the configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub enabled: bool,
    /// `HH:MM`, JST local time.
    pub at: String,
    pub days: u32,
}

#[derive(Debug, Serialize)]
pub struct Panel {
    #[serde(flatten)]
    settings: Settings,
    /// Newest date first.
    dates: Vec<DayView>,
    /// Newest run first.
    runs: Vec<RunRow>,
}

/// A run without its differences (those are under `dates`).
#[derive(Debug, Serialize, PartialEq)]
pub struct RunRow {
    day: NaiveDate,
    from: NaiveDate,
    to: NaiveDate,
    state: RunState,
    owner: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    error: Option<String>,
    differing_rows: Option<u64>,
    qty_difference: Option<f64>,
    amount_difference: Option<f64>,
}

impl From<&RunRecord> for RunRow {
    fn from(r: &RunRecord) -> Self {
        Self {
            day: r.day,
            from: r.from,
            to: r.to,
            state: r.state,
            owner: r.owner.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error.clone(),
            differing_rows: r.outcome.as_ref().map(|o| o.differing_rows),
            qty_difference: r.outcome.as_ref().map(|o| o.qty_difference),
            amount_difference: r.outcome.as_ref().map(|o| o.amount_difference),
        }
    }
}

pub fn panel(settings: Settings, mut runs: Vec<RunRecord>) -> Panel {
    runs.sort_by_key(|r| std::cmp::Reverse(r.day));
    Panel {
        settings,
        dates: record::days(&runs),
        runs: runs.iter().map(RunRow::from).collect(),
    }
}

/// Runs read for the panel: a month of dates (each run covers `reconcile_days` of them) is
/// what the page shows, and a run that differs can weigh some 100 KiB.
const PANEL_RUNS: usize = 31;

pub async fn reconcile(State(api): State<Arc<Api>>) -> Result<Json<Panel>, ApiError> {
    let runs = Books::new(&api.topology)
        .runs(PANEL_RUNS)
        .await
        .map_err(internal)?;
    Ok(Json(panel(api.books.clone(), runs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::books::record::tests::{differing_report, finished_run};

    #[test]
    fn the_panel_lists_dates_and_runs_newest_first() {
        let settings = Settings {
            enabled: true,
            at: "06:00".into(),
            days: 7,
        };
        let panel = panel(
            settings,
            vec![
                finished_run("2026-11-30", Err("T+: down".into())),
                finished_run("2026-12-01", Ok(&differing_report())),
            ],
        );
        let json = serde_json::to_value(&panel).expect("json");
        assert_eq!(json["enabled"], true);
        assert_eq!(json["runs"][0]["day"], "2026-12-01");
        assert_eq!(json["runs"][0]["differing_rows"], 2);
        assert_eq!(json["runs"][1]["state"], "failed");
        assert_eq!(json["runs"][1]["error"], "T+: down");
        assert_eq!(json["dates"][0]["date"], "2026-11-30");
        let red = &json["dates"][2];
        assert_eq!(
            (red["date"].as_str(), red["state"].as_str()),
            (Some("2026-11-28"), Some("differ"))
        );
        assert_eq!(red["differences"][0]["sku"], "SKU-A");
        assert_eq!(
            red["differences"][0]["explanations"][0]["whereabouts"]["kind"],
            "missing_in_tplus"
        );
    }
}
