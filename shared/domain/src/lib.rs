//! The messages that travel between the stages. Raw orders travel as the JSON JST returned
//! (so nothing is lost before mapping); everything else is one of these types.

mod change;
mod dead_letter;
mod voucher;
mod window;

pub use change::{
    ChangeRecord, LineDelta, LineKey, OrderChanged, WrittenLine, WrittenOrder, line_deltas,
    micro_of, micro_text,
};
pub use dead_letter::{Attempt, DeadLetter, DeadLetterReason, Stage};
pub use voucher::{VoucherEnvelope, WriteOutcome, WriteResult};
pub use window::{JST_TIME_FORMAT, Window, WindowClosed, jst_time};

/// The `io_id` of a raw JST outbound order, if it has a usable one.
pub fn io_id_of(order: &serde_json::Value) -> Option<i64> {
    match order.get("io_id")? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
