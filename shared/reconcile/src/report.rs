//! The result of one reconciliation. Serialized as is by `--format json` and kept by the
//! monitor: add fields, never rename or remove them (bump [`REPORT_VERSION`] if a meaning
//! changes).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub const REPORT_VERSION: u32 = 1;

/// Quantities and amounts closer than this are equal (they are sums of decimals).
pub const TOLERANCE: f64 = 1e-6;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    /// Inclusive dates (the voucher date, `yyyy-MM-dd`).
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The sync task reconciled; `None` = every task.
    pub task: Option<String>,
    /// Every (date, warehouse, SKU) present on either side, sorted by key.
    pub rows: Vec<Row>,
    pub totals: Totals,
    /// The rows that differ, worst first (by |amount difference|, then |quantity
    /// difference|), each with the io_ids behind it and where each is now.
    pub differences: Vec<Difference>,
    /// Requests made to each API by this run.
    pub jst_requests: u64,
    pub tplus_requests: u64,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub elapsed_ms: u64,
}

impl Report {
    /// The books match: no row differs.
    pub fn equal(&self) -> bool {
        self.differences.is_empty()
    }
}

/// One (date, warehouse, SKU): JST's side and T+'s, in T+'s codes (after mapping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub date: NaiveDate,
    pub warehouse: String,
    pub sku: String,
    pub jst_qty: f64,
    pub jst_amount: f64,
    pub tplus_qty: f64,
    pub tplus_amount: f64,
}

impl Row {
    /// T+ minus JST.
    pub fn qty_diff(&self) -> f64 {
        self.tplus_qty - self.jst_qty
    }

    pub fn amount_diff(&self) -> f64 {
        self.tplus_amount - self.jst_amount
    }

    pub fn differs(&self) -> bool {
        self.qty_diff().abs() > TOLERANCE || self.amount_diff().abs() > TOLERANCE
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub jst_orders: u64,
    pub jst_qty: f64,
    pub jst_amount: f64,
    pub tplus_vouchers: u64,
    pub tplus_qty: f64,
    pub tplus_amount: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    #[serde(flatten)]
    pub row: Row,
    pub explanations: Vec<Explanation>,
}

/// One io_id (or one voucher) behind a difference, and where it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub io_id: Option<i64>,
    /// The voucher (ExternalCode) it was merged into, if any.
    pub voucher: Option<String>,
    pub whereabouts: Whereabouts,
    /// For a person: what happened, in one line.
    pub detail: String,
}

/// Where an io_id behind a difference is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Whereabouts {
    /// JST has it; the pipeline never fetched it.
    NeverFetched,
    /// Fetched, not yet written (being merged, waiting for T+, retrying).
    InFlight,
    /// Held in the dead letters (id, reason).
    DeadLettered { id: u64, reason: String },
    /// Merged into a voucher T+ does not have (deleted in T+, or never written).
    MissingInTplus,
    /// Written, yet JST's lines differ from T+'s now (changed in JST after the write, or the
    /// voucher edited in T+).
    ChangedAfterWrite,
    /// In T+ (a voucher of ours) but no longer shipped in JST (cancelled, or out of the
    /// task's filters).
    NotInJst,
}
