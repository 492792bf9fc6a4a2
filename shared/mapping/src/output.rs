use j2t_domain::VoucherEnvelope;
use serde_json::Value;

/// What mapping a set of orders produced: vouchers, orders that could not be used (errors,
/// for the dead-letter stream) and what the mapping's conditions left out (not errors).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MapOutput {
    pub vouchers: Vec<VoucherEnvelope>,
    pub rejected: Vec<RejectedOrder>,
    /// Orders a condition left out, ascending by io_id.
    pub skipped_orders: Vec<SkippedOrder>,
    /// Lines a condition left out of orders that were used, ascending by (io_id, line).
    pub skipped_lines: Vec<SkippedLine>,
}

/// An order left out whole, with why; `order` is the order as it came from JST.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedOrder {
    pub io_id: Option<i64>,
    pub reason: String,
    pub order: Value,
}

/// An order a condition left out (e.g. `keep_if status in ["Confirmed"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedOrder {
    pub io_id: i64,
    pub reason: String,
}

/// A line a condition left out (e.g. a gift).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    pub io_id: i64,
    /// 1-based position in the order's `items`.
    pub line: usize,
    pub reason: String,
}
