//! Data changing under a client while it pages: before answering any query request, the
//! simulator may (fault `drift_probability`) modify one order the request selects, or insert
//! a newly shipped one. Every mutation is recorded for the tests.

use chrono::{Duration, Utc};
use j2t_domain::JST_TIME_FORMAT;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::filter::OrderFilter;
use crate::orders::OrderBook;
use crate::random::roll;
use crate::state::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    /// An order the request selects got `modified` = now and a new `ts`.
    Modify,
    /// A new order, shipped now.
    Insert,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftEvent {
    pub kind: DriftKind,
    pub io_id: i64,
}

/// Rolls the drift fault for one request and applies a mutation when it fires. A modify picks
/// among the orders `filter` selects (window, date_type, status, …) but ignores the request's
/// `start_ts`: in real life an order already delivered can change again, and a cursor client
/// must then see it once more.
pub fn maybe_drift(store: &Store, filter: &OrderFilter) {
    let now = jst_now(store.utc_offset_minutes);
    store.with(|d| {
        if !roll(&mut d.jst.rng, d.jst.faults.drift_probability) {
            return;
        }
        if let Some(event) = mutate(&mut d.book, &mut d.jst.rng, |o| filter.matches(o), &now) {
            tracing::debug!(kind = ?event.kind, io_id = event.io_id, "drift");
            d.jst.drift_events.push(event);
        }
    });
}

/// Current JST local time, formatted as JST does.
pub(crate) fn jst_now(utc_offset_minutes: i32) -> String {
    (Utc::now() + Duration::minutes(utc_offset_minutes.into()))
        .naive_utc()
        .format(JST_TIME_FORMAT)
        .to_string()
}

/// One mutation, modify or insert with equal probability. A modify with no selected order to
/// change becomes an insert, so a fired fault always changes something (unless the book is
/// empty).
pub fn mutate(
    book: &mut OrderBook,
    rng: &mut StdRng,
    selected: impl Fn(&Value) -> bool,
    now: &str,
) -> Option<DriftEvent> {
    if rng.random_bool(0.5) {
        let candidates: Vec<i64> = book
            .iter()
            .filter(|o| selected(o))
            .filter_map(j2t_domain::io_id_of)
            .collect();
        if let Some(io_id) = pick(rng, &candidates) {
            book.modify(io_id, |order| {
                if let Some(fields) = order.as_object_mut() {
                    let remark = fields
                        .get("remark")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let remark = format!("{remark} [modified]");
                    fields.insert("remark".into(), remark.into());
                    fields.insert("modified".into(), now.into());
                }
            });
            return Some(DriftEvent {
                kind: DriftKind::Modify,
                io_id,
            });
        }
    }
    insert(book, rng, now)
}

/// A copy of a random order as a new shipment: new ids, dated now.
fn insert(book: &mut OrderBook, rng: &mut StdRng, now: &str) -> Option<DriftEvent> {
    let all: Vec<i64> = book.iter().filter_map(j2t_domain::io_id_of).collect();
    let template = pick(rng, &all)?;
    let mut order = book.get(template)?.clone();
    let io_id = book.max_io_id()? + 1;
    let o_id = max_of(book.iter(), "o_id") + 1;
    let mut ioi_id = max_of(book.iter().flat_map(items), "ioi_id");
    let so_id = format!("DRIFT-{io_id}");
    let fields = order.as_object_mut()?;
    for (key, value) in [
        ("io_id", json!(io_id)),
        ("o_id", json!(o_id)),
        ("so_id", json!(so_id)),
        ("io_date", json!(now)),
        ("modified", json!(now)),
        ("created", json!(now)),
        ("status", json!("Confirmed")),
    ] {
        fields.insert(key.into(), value);
    }
    // Item ids are unique too, and each item names the order it came from.
    if let Some(Value::Array(lines)) = fields.get_mut("items") {
        for line in lines.iter_mut().filter_map(Value::as_object_mut) {
            ioi_id += 1;
            line.insert("ioi_id".into(), ioi_id.into());
            if line.contains_key("raw_so_id") {
                line.insert("raw_so_id".into(), so_id.clone().into());
            }
        }
    }
    book.upsert(order)?;
    Some(DriftEvent {
        kind: DriftKind::Insert,
        io_id,
    })
}

fn pick(rng: &mut StdRng, ids: &[i64]) -> Option<i64> {
    if ids.is_empty() {
        return None;
    }
    ids.get(rng.random_range(0..ids.len())).copied()
}

fn items(order: &Value) -> impl Iterator<Item = &Value> {
    order
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn max_of<'a>(values: impl Iterator<Item = &'a Value>, key: &str) -> i64 {
    values
        .filter_map(|v| v.get(key).and_then(Value::as_i64))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    const NOW: &str = "2026-11-27 12:00:00";

    fn book() -> OrderBook {
        let mut book = OrderBook::default();
        for io_id in [10, 11, 12] {
            book.upsert(json!({
                "io_id": io_id, "o_id": io_id + 100, "so_id": format!("SO{io_id}"),
                "status": "WaitConfirm", "remark": "r", "modified": "2026-11-25 08:00:00",
                "items": [{"ioi_id": io_id * 10, "raw_so_id": format!("SO{io_id}")}],
            }));
        }
        book
    }

    #[test]
    fn modify_changes_a_selected_order_and_insert_adds_a_fresh_one() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut book = book();
        let (mut modified, mut inserted) = (0, 0);
        for _ in 0..20 {
            let last_ts = book.iter().filter_map(|o| o["ts"].as_i64()).max();
            let event = mutate(&mut book, &mut rng, |o| o["io_id"] == 11, NOW).expect("event");
            let order = book.get(event.io_id).expect("stored");
            assert_eq!(order["modified"], NOW);
            assert!(order["ts"].as_i64() > last_ts, "a new ts");
            match event.kind {
                DriftKind::Modify => {
                    modified += 1;
                    assert_eq!(event.io_id, 11, "only selected orders are modified");
                    assert!(
                        order["remark"]
                            .as_str()
                            .is_some_and(|r| r.ends_with(" [modified]"))
                    );
                }
                DriftKind::Insert => {
                    inserted += 1;
                    assert_eq!(Some(event.io_id), book.max_io_id());
                    assert_eq!(order["so_id"], format!("DRIFT-{}", event.io_id));
                    assert_eq!(
                        (&order["status"], &order["io_date"]),
                        (&json!("Confirmed"), &json!(NOW))
                    );
                    assert_eq!(order["items"][0]["raw_so_id"], order["so_id"]);
                }
            }
        }
        assert!(modified > 0 && inserted > 0, "{modified} {inserted}");
        let o_ids: std::collections::BTreeSet<_> =
            book.iter().map(|o| o["o_id"].as_i64()).collect();
        let ioi_ids: std::collections::BTreeSet<_> = book
            .iter()
            .map(|o| o["items"][0]["ioi_id"].as_i64())
            .collect();
        assert_eq!(
            (o_ids.len(), ioi_ids.len()),
            (book.len(), book.len()),
            "ids stay unique"
        );
    }

    #[test]
    fn nothing_selected_means_insert_and_an_empty_book_means_nothing() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut book = book();
        for _ in 0..5 {
            let event = mutate(&mut book, &mut rng, |_| false, NOW).expect("event");
            assert_eq!(event.kind, DriftKind::Insert);
        }
        assert_eq!(
            mutate(&mut OrderBook::default(), &mut rng, |_| true, NOW),
            None
        );
    }
}
