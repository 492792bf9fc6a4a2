//! Reconciliation: what JST shipped in a date range against what T+ holds, per (date,
//! warehouse, SKU), with every difference explained from lineage. Used by `jst2tplus
//! reconcile` and by the monitor's scheduled run. `report` is the stable result (`--format
//! json` prints it as is).
//!
//! A run ([`reconcile`]): T+'s vouchers of ours (ExternalCode prefix) listed and read back
//! from T+ (`tplus`); JST re-queried with each task's filters through the fetcher's client,
//! rate schedule and paging, each order mapped by the transformer's mapping (`jst`); both
//! keyed by T+'s codes (`lines`) and compared (`compare`); for the differing keys only, the
//! pipeline's lineage gathered in batches (`lineage`) and each difference explained
//! (`explain`).

mod compare;
mod explain;
mod jst;
mod lineage;
mod lines;
mod report;
mod run;
mod tplus;

pub use report::{Difference, Explanation, REPORT_VERSION, Report, Row, Totals, Whereabouts};
pub use run::{MAX_DAYS, NoProgress, Progress, ReconcileError, Request, reconcile};
