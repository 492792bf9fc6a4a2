//! One order at a time, before any merging: dedupe, `format_response`, conditions, and a
//! full trial render. An order that fails anywhere is rejected whole, so a merged voucher
//! never holds half an order.

use std::collections::BTreeMap;

use j2t_domain::io_id_of;
use serde_json::Value;

use crate::condition::{Scope, skipped_by};
use crate::decimal::Fixed;
use crate::format;
use crate::merge::add_merge_fields;
use crate::output::{RejectedOrder, SkippedLine};
use crate::render::{render_header, render_line};
use crate::spec::Mapping;
use crate::template::{Path, scalar_text};

/// An order ready to merge.
pub struct Ready {
    /// After `format_response`.
    pub order: Value,
    /// Values of `merge.header_group`.
    pub group: Vec<String>,
    pub lines: Vec<Line>,
    pub skipped_lines: Vec<SkippedLine>,
}

/// One kept line: its `merge.line_group` values and `merge.sum` values.
pub struct Line {
    pub key: Vec<String>,
    pub sums: Vec<Fixed>,
    pub item: Value,
}

pub enum Prepared {
    Ready(Ready),
    /// Unusable: the reason goes to the dead-letter stream with the original order.
    Rejected(String),
    /// Left out by a condition: not an error.
    Skipped(String),
}

/// Keeps one version per io_id: the newest `ts`, ties broken by content, so the choice does
/// not depend on arrival order. Orders without an io_id are rejected.
pub fn dedupe(orders: Vec<Value>, rejected: &mut Vec<RejectedOrder>) -> BTreeMap<i64, Value> {
    let mut by_id: BTreeMap<i64, Value> = BTreeMap::new();
    let rank = |o: &Value| {
        (
            o.get("ts").and_then(Value::as_i64).unwrap_or(0),
            o.to_string(),
        )
    };
    for order in orders {
        let Some(io_id) = io_id_of(&order) else {
            rejected.push(RejectedOrder {
                io_id: None,
                reason: "order without a usable io_id: `io_id` is missing or not a number".into(),
                order,
            });
            continue;
        };
        match by_id.get(&io_id) {
            Some(kept) if rank(kept) >= rank(&order) => {}
            _ => {
                by_id.insert(io_id, order);
            }
        }
    }
    by_id
}

fn key_text(path: &Path, order: &Value, line: Option<&Value>) -> Result<String, String> {
    match path.get(order, line).map(scalar_text) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(format!("group field `{path}` is missing")),
    }
}

/// Everything the merge needs from one order, or why it is left out.
pub fn prepare(mapping: &Mapping, io_id: i64, order: Value) -> Prepared {
    match try_prepare(mapping, io_id, order) {
        Ok(ready) => Prepared::Ready(ready),
        Err(left_out) => left_out,
    }
}

fn try_prepare(mapping: &Mapping, io_id: i64, mut order: Value) -> Result<Ready, Prepared> {
    let reject = Prepared::Rejected;
    format::apply(&mapping.format_response, &mut order).map_err(reject)?;
    let order = order;
    if let Some(reason) = skipped_by(&mapping.conditions, Scope::Order, &order, None) {
        return Err(Prepared::Skipped(reason));
    }
    let m = &mapping.merge;
    let group = m
        .header_group
        .iter()
        .map(|p| key_text(p, &order, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(reject)?;
    // Rows may read the fields the merge adds; stand-ins let the trial render see them (the
    // merge writes the real ones into each voucher's header).
    let mut trial = order.clone();
    add_merge_fields(&mut trial, "trial", &[io_id]);
    render_header(mapping, &trial).map_err(reject)?;
    let items = order
        .get(&mapping.target.body_source)
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| {
            reject(format!(
                "`{}` is missing or empty",
                mapping.target.body_source
            ))
        })?;
    let mut lines = Vec::with_capacity(items.len());
    let mut skipped_lines = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(reason) = skipped_by(&mapping.conditions, Scope::Line, &order, Some(item)) {
            skipped_lines.push(SkippedLine {
                io_id,
                line: i + 1,
                reason,
            });
            continue;
        }
        let at = |e: String| reject(format!("line {}: {e}", i + 1));
        let key = m
            .line_group
            .iter()
            .map(|p| key_text(p, &order, Some(item)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?;
        let sums = m
            .sum
            .iter()
            .map(|p| {
                let v = p.get(&order, Some(item));
                v.and_then(Fixed::from_json).ok_or_else(|| {
                    format!(
                        "`{p}` = {} is not a number",
                        v.map_or("nothing".to_string(), Value::to_string)
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?;
        render_line(mapping, &trial, item).map_err(at)?;
        lines.push(Line {
            key,
            sums,
            item: item.clone(),
        });
    }
    if lines.is_empty() {
        let why = skipped_lines
            .first()
            .map(|s| s.reason.as_str())
            .unwrap_or_default();
        return Err(Prepared::Skipped(format!(
            "every line was left out ({why})"
        )));
    }
    Ok(Ready {
        order,
        group,
        lines,
        skipped_lines,
    })
}
