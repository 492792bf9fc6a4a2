//! The simulated JST's outbound orders, keyed by io_id, with JST's rowversion `ts`: every
//! insert or change stamps the order with the next value of one global counter, so `ts`
//! orders rows by their last write (what `start_ts` paging relies on).
//!
//! Orders may also be held back until a given instant (a late commit: a warehouse that syncs
//! late, an offline-shop order typed in the next morning). JST has no such order before that
//! instant; at it the row is written: `modified` becomes that instant and it gets its `ts`
//! then, while `io_date` keeps the ship time. Queries and the admin listing release every due
//! order first ([`OrderBook::release_due`]), so nobody can tell the release was lazy.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use j2t_domain::JST_TIME_FORMAT;
use serde_json::Value;

#[derive(Debug, Default)]
pub(crate) struct OrderBook {
    orders: BTreeMap<i64, Value>,
    /// Orders not yet visible, by the instant they become visible (then by arrival).
    pending: Vec<(DateTime<Utc>, Value)>,
    /// Last `ts` handed out; the next write gets `last_ts + 1`.
    last_ts: i64,
    /// (time text, io_id) of every order, per date field a query can filter on, so a query
    /// reads the rows of its window instead of the whole book. Texts not in JST's zero-padded
    /// form (which sorts as time) are kept apart and always read.
    by_date: BTreeMap<&'static str, DateIndex>,
}

/// The date fields a query's window can apply to (`date_type` 0 and 2).
pub(crate) const DATE_FIELDS: [&str; 2] = ["modified", "io_date"];

#[derive(Debug, Default)]
struct DateIndex {
    /// (time text, io_id) → the order's `ts`, so rows before a `start_ts` are passed over
    /// without reading the order.
    sorted: BTreeMap<(String, i64), Option<i64>>,
    other: BTreeSet<i64>,
}

impl DateIndex {
    fn key(order: &Value, field: &str) -> Option<String> {
        order
            .get(field)
            .and_then(Value::as_str)
            .filter(|t| is_jst_time_text(t))
            .map(str::to_string)
    }

    fn add(&mut self, io_id: i64, order: &Value, field: &str) {
        match Self::key(order, field) {
            Some(text) => {
                let ts = order.get("ts").and_then(Value::as_i64);
                self.sorted.insert((text, io_id), ts);
            }
            None => {
                self.other.insert(io_id);
            }
        }
    }

    fn remove(&mut self, io_id: i64, order: &Value, field: &str) {
        match Self::key(order, field) {
            Some(text) => {
                self.sorted.remove(&(text, io_id));
            }
            None => {
                self.other.remove(&io_id);
            }
        }
    }
}

/// Shaped like `yyyy-MM-dd HH:mm:ss` (digits and separators where JST puts them): such texts
/// sort as the times they name.
pub(crate) fn is_jst_time_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 19
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        })
}

impl OrderBook {
    /// Inserts or replaces an order by io_id and stamps a fresh `ts` (any given one is
    /// overwritten: only the store decides write order). `None`: no usable io_id, skipped.
    pub fn upsert(&mut self, mut order: Value) -> Option<i64> {
        let io_id = j2t_domain::io_id_of(&order)?;
        self.stamp(&mut order);
        self.put(io_id, order);
        Some(io_id)
    }

    /// Stores `order` under `io_id`, replacing (and unindexing) any earlier version.
    fn put(&mut self, io_id: i64, order: Value) {
        if let Some(old) = self.orders.remove(&io_id) {
            self.unindex(io_id, &old);
        }
        for field in DATE_FIELDS {
            self.by_date
                .entry(field)
                .or_default()
                .add(io_id, &order, field);
        }
        self.orders.insert(io_id, order);
    }

    fn unindex(&mut self, io_id: i64, order: &Value) {
        for field in DATE_FIELDS {
            self.by_date
                .entry(field)
                .or_default()
                .remove(io_id, order, field);
        }
    }

    /// Changes one order in place and stamps a fresh `ts`; `false` if there is no such order.
    pub fn modify(&mut self, io_id: i64, change: impl FnOnce(&mut Value)) -> bool {
        let Some(mut order) = self.orders.remove(&io_id) else {
            return false;
        };
        self.unindex(io_id, &order);
        change(&mut order);
        self.stamp(&mut order);
        self.put(io_id, order);
        true
    }

    /// Holds `order` back until `visible_at`; `None` (and nothing held) without an io_id.
    pub fn hold(&mut self, order: Value, visible_at: DateTime<Utc>) -> Option<i64> {
        let io_id = j2t_domain::io_id_of(&order)?;
        self.pending.push((visible_at, order));
        self.pending.sort_by_key(|(at, _)| *at);
        Some(io_id)
    }

    /// Writes every held order whose instant has come, in instant order: `modified` is that
    /// instant in JST local time (`utc_offset_minutes`), `ts` the next value. Returns how many.
    pub fn release_due(&mut self, now: DateTime<Utc>, utc_offset_minutes: i32) -> usize {
        let due = self.pending.partition_point(|(at, _)| *at <= now);
        let released: Vec<_> = self.pending.drain(..due).collect();
        let count = released.len();
        for (at, mut order) in released {
            let local = (at + Duration::minutes(utc_offset_minutes.into())).naive_utc();
            if let Some(fields) = order.as_object_mut() {
                let modified = local.format(JST_TIME_FORMAT).to_string();
                fields.insert("modified".into(), modified.into());
            }
            self.upsert(order);
        }
        count
    }

    /// Orders held back and not yet visible.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn stamp(&mut self, order: &mut Value) {
        self.last_ts += 1;
        if let Value::Object(fields) = order {
            fields.insert("ts".into(), self.last_ts.into());
        }
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// All orders, ascending by io_id.
    pub fn iter(&self) -> impl Iterator<Item = &Value> {
        self.orders.values()
    }

    /// The orders whose `field` may lie within `begin..=end` (JST time texts) with a `ts` of
    /// at least `min_ts`: every one that does, and those whose `field` is not in JST's form
    /// (the caller checks each). In no particular order. An unindexed `field`: every order.
    pub fn in_window<'a>(
        &'a self,
        field: &str,
        begin: &str,
        end: &str,
        min_ts: Option<i64>,
    ) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
        let Some(index) = self.by_date.get(field) else {
            if DATE_FIELDS.contains(&field) {
                return Box::new(std::iter::empty());
            }
            return Box::new(self.iter());
        };
        let range = (begin.to_string(), i64::MIN)..=(end.to_string(), i64::MAX);
        let ids = index
            .sorted
            .range(range)
            .filter(move |(_, ts)| min_ts.is_none_or(|min| **ts >= Some(min)))
            .map(|((_, io_id), _)| io_id)
            .chain(index.other.iter());
        Box::new(ids.filter_map(|io_id| self.orders.get(io_id)))
    }

    pub fn get(&self, io_id: i64) -> Option<&Value> {
        self.orders.get(&io_id)
    }

    pub fn max_io_id(&self) -> Option<i64> {
        self.orders.keys().next_back().copied()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_write_stamps_the_next_ts_overwriting_a_given_one() {
        let mut book = OrderBook::default();
        assert_eq!(book.upsert(json!({"io_id": 5, "ts": 999})), Some(5));
        assert_eq!(book.upsert(json!({"io_id": "3"})), Some(3));
        assert_eq!(book.upsert(json!({"no_id": 1})), None);
        assert_eq!(book.get(5).map(|o| o["ts"].clone()), Some(json!(1)));
        assert_eq!(book.get(3).map(|o| o["ts"].clone()), Some(json!(2)));
        assert!(book.modify(5, |o| o["remark"] = json!("changed")));
        assert!(!book.modify(6, |_| {}));
        assert_eq!(book.get(5).map(|o| o["ts"].clone()), Some(json!(3)));
        assert_eq!(book.upsert(json!({"io_id": 3})), Some(3));
        assert_eq!(book.get(3).map(|o| o["ts"].clone()), Some(json!(4)));
        assert_eq!((book.len(), book.max_io_id()), (2, Some(5)));
    }

    #[test]
    fn the_window_index_follows_every_write() {
        let mut book = OrderBook::default();
        let ids = |book: &OrderBook, begin: &str, end: &str| {
            let mut ids: Vec<i64> = book
                .in_window("modified", begin, end, None)
                .filter_map(|o| o["io_id"].as_i64())
                .collect();
            ids.sort();
            ids
        };
        book.upsert(json!({"io_id": 1, "modified": "2026-11-25 10:00:00"}));
        book.upsert(json!({"io_id": 2, "modified": "2026-11-26 10:00:00"}));
        book.upsert(json!({"io_id": 3, "modified": "2026-11-25 9:00:00"}));
        let day = ("2026-11-25 00:00:00", "2026-11-25 23:59:59");
        assert_eq!(
            ids(&book, day.0, day.1),
            vec![1, 3],
            "texts not in JST's form: always"
        );
        assert!(book.modify(1, |o| o["modified"] = json!("2026-11-26 11:00:00")));
        assert_eq!(ids(&book, day.0, day.1), vec![3]);
        book.upsert(json!({"io_id": 2, "modified": "2026-11-25 23:59:59"}));
        assert_eq!(
            ids(&book, day.0, day.1),
            vec![2, 3],
            "a replaced order moves"
        );
        assert_eq!(
            ids(&book, "2026-11-26 00:00:00", "2026-11-26 23:59:59"),
            vec![1, 3]
        );
        // ts: order 3 is 3, order 1 (modified) 4, order 2 (replaced) 5.
        let from_ts = |min| {
            let mut ids: Vec<i64> = book
                .in_window("modified", day.0, day.1, Some(min))
                .filter_map(|o| o["io_id"].as_i64())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(from_ts(5), vec![2, 3], "texts not in JST's form: always");
        assert_eq!(from_ts(6), vec![3]);
    }

    #[test]
    fn a_held_order_is_written_at_its_instant_with_that_modified_and_a_fresh_ts() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&Utc)
        };
        let mut book = OrderBook::default();
        book.upsert(json!({"io_id": 1}));
        let late = json!({"io_id": 7, "io_date": "2026-11-25 10:00:00", "modified": "x"});
        assert_eq!(book.hold(late, at("2026-11-25T02:10:00Z")), Some(7));
        assert_eq!(
            book.hold(json!({"io_id": 8}), at("2026-11-25T02:05:00Z")),
            Some(8)
        );
        assert_eq!(
            book.hold(json!({"none": 1}), at("2026-11-25T02:05:00Z")),
            None
        );
        assert_eq!(book.release_due(at("2026-11-25T02:04:59Z"), 480), 0);
        assert_eq!((book.len(), book.pending_len()), (1, 2));
        assert!(book.get(7).is_none(), "not visible before its instant");
        assert_eq!(book.release_due(at("2026-11-25T02:10:00Z"), 480), 2);
        assert_eq!((book.len(), book.pending_len()), (3, 0));
        let order = book.get(7).expect("visible");
        assert_eq!(order["modified"], "2026-11-25 10:10:00");
        assert_eq!(order["io_date"], "2026-11-25 10:00:00", "ship time kept");
        assert_eq!(
            (book.get(8).map(|o| o["ts"].clone()), order["ts"].clone()),
            (Some(json!(2)), json!(3)),
            "released in instant order, each with the next ts"
        );
    }
}
