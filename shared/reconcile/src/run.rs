//! One reconciliation run: the I/O around the pure parts (JST side, T+ side, comparison,
//! explanations).

use chrono::NaiveDate;
use j2t_config::Config;
use j2t_topology::Topology;

use crate::Report;

/// What to reconcile: inclusive voucher dates, one task or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// A sync task's name (`fetcher.tasks.NAME`, or `default`); `None` = every task.
    pub task: Option<String>,
}

/// Progress of a long run (the CLI draws a bar on stderr; the monitor ignores it).
pub trait Progress: Send + Sync {
    /// A new phase begins; `total` units when known.
    fn phase(&self, name: &str, total: Option<u64>);
    fn advance(&self, n: u64);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _name: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
}

/// The run could not be completed (the books were not compared).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("mapping: {0}")]
    Mapping(String),
    #[error("JST: {0}")]
    Jst(String),
    #[error("T+: {0}")]
    Tplus(String),
    #[error("pipeline state in NATS: {0}")]
    Nats(String),
}

/// Compares JST with T+ over `request`'s dates; see the crate docs.
pub async fn reconcile(
    cfg: &Config,
    topology: &Topology,
    request: &Request,
    progress: &dyn Progress,
) -> Result<Report, ReconcileError> {
    let _ = (cfg, topology, progress);
    Err(ReconcileError::BadRequest(format!(
        "reconcile {}..{} is not implemented yet",
        request.from, request.to
    )))
}
