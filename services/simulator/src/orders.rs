//! The simulated JST's outbound orders, keyed by io_id, with JST's rowversion `ts`: every
//! insert or change stamps the order with the next value of one global counter, so `ts`
//! orders rows by their last write (what `start_ts` paging relies on).

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Default)]
pub(crate) struct OrderBook {
    orders: BTreeMap<i64, Value>,
    /// Last `ts` handed out; the next write gets `last_ts + 1`.
    last_ts: i64,
}

impl OrderBook {
    /// Inserts or replaces an order by io_id and stamps a fresh `ts` (any given one is
    /// overwritten: only the store decides write order). `None`: no usable io_id, skipped.
    pub fn upsert(&mut self, mut order: Value) -> Option<i64> {
        let io_id = j2t_domain::io_id_of(&order)?;
        self.stamp(&mut order);
        self.orders.insert(io_id, order);
        Some(io_id)
    }

    /// Changes one order in place and stamps a fresh `ts`; `false` if there is no such order.
    pub fn modify(&mut self, io_id: i64, change: impl FnOnce(&mut Value)) -> bool {
        let Some(mut order) = self.orders.remove(&io_id) else {
            return false;
        };
        change(&mut order);
        self.stamp(&mut order);
        self.orders.insert(io_id, order);
        true
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
}
