//! Reconciliation: what JST shipped in a date range against what T+ holds, per (date,
//! warehouse, SKU), with every difference explained from lineage. Used by `jst2tplus
//! reconcile` and by the monitor's scheduled run. `report` is the stable result (`--format
//! json` prints it as is).

mod compare;
mod explain;
mod jst;
mod lineage;
mod lines;
mod report;
mod run;
mod tplus;

pub use report::{Difference, Explanation, REPORT_VERSION, Report, Row, Totals, Whereabouts};
pub use run::{NoProgress, Progress, ReconcileError, Request, reconcile};
