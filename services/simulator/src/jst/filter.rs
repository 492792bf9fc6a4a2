//! The `biz` of an outbound query, parsed and validated: paging, cursor and the filters that
//! decide which orders match.

use chrono::NaiveDateTime;
use j2t_domain::JST_TIME_FORMAT;
use serde_json::Value;

const MAX_WINDOW_SECS: i64 = 7 * 86_400;
const MAX_IDS: usize = 50;

#[derive(Debug, Clone)]
pub struct OutboundQuery {
    pub page_index: i64,
    pub page_size: i64,
    /// Rowversion cursor: only orders with `ts >= start_ts`, ordered by `ts`.
    pub start_ts: Option<i64>,
    pub get_total: bool,
    pub filter: OrderFilter,
}

/// Which orders a query selects, apart from the `start_ts` cursor.
#[derive(Debug, Clone)]
pub struct OrderFilter {
    window: Option<TimeWindow>,
    /// `modified` (date_type 0) or `io_date` (date_type 2).
    date_field: &'static str,
    status: Option<String>,
    shop_id: Option<i64>,
    wms_co_id: Option<i64>,
    offline: Option<bool>,
    io_ids: Option<Vec<String>>,
    so_ids: Option<Vec<String>>,
    o_ids: Option<Vec<String>>,
}

impl OutboundQuery {
    pub fn parse(biz: &Value) -> Result<Self, String> {
        let page_index = int(biz, "page_index")?.unwrap_or(1);
        let page_size = int(biz, "page_size")?.unwrap_or(30);
        if page_index < 1 {
            return Err("page_index must be at least 1".into());
        }
        if !(1..=50).contains(&page_size) {
            return Err(format!(
                "page_size must be between 1 and 50, got {page_size}"
            ));
        }
        Ok(Self {
            page_index,
            page_size,
            start_ts: int(biz, "start_ts")?,
            get_total: boolean(biz, "is_get_total")?.unwrap_or(true),
            filter: OrderFilter::parse(biz)?,
        })
    }

    pub fn matches(&self, order: &Value) -> bool {
        // The integer test first: it is the cheapest and, with start_ts, drops most rows.
        self.start_ts
            .is_none_or(|start| order.get("ts").and_then(Value::as_i64) >= Some(start))
            && self.filter.matches(order)
    }
}

impl OrderFilter {
    fn parse(biz: &Value) -> Result<Self, String> {
        let begin = time(biz, "modified_begin")?;
        let end = time(biz, "modified_end")?;
        let window = match (begin, end) {
            (Some(b), Some(e)) => {
                let span = (e - b).num_seconds();
                if span < 0 {
                    return Err("modified_end is before modified_begin".into());
                }
                if span > MAX_WINDOW_SECS {
                    return Err(format!(
                        "modified_begin..modified_end spans {span} s, more than 7 days"
                    ));
                }
                Some(TimeWindow::new(b, e))
            }
            (None, None) => None,
            _ => return Err("modified_begin and modified_end must be given together".into()),
        };
        let io_ids = string_list(biz, "io_ids");
        let so_ids = string_list(biz, "so_ids");
        let o_ids = string_list(biz, "o_ids");
        // start_ts alone is not enough either: JST wants a window or ids with it.
        if window.is_none() && io_ids.is_none() && so_ids.is_none() && o_ids.is_none() {
            return Err(
                "give modified_begin/modified_end or an id list (so_ids, o_ids, io_ids)".into(),
            );
        }
        for (key, list) in [("so_ids", &so_ids), ("o_ids", &o_ids), ("io_ids", &io_ids)] {
            if list.as_ref().is_some_and(|l| l.len() > MAX_IDS) {
                return Err(format!("{key} holds more than {MAX_IDS} ids"));
            }
        }
        let date_field = match int(biz, "date_type")?.unwrap_or(0) {
            0 => "modified",
            2 => "io_date",
            other => return Err(format!("date_type {other} is not supported (0 or 2)")),
        };
        Ok(Self {
            window,
            date_field,
            status: biz
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_string),
            shop_id: int(biz, "shop_id")?,
            wms_co_id: int(biz, "wms_co_id")?,
            offline: boolean(biz, "is_offline_shop")?,
            io_ids,
            so_ids,
            o_ids,
        })
    }

    /// The date field its window applies to and the window's bounds as JST time texts.
    pub fn window_text(&self) -> Option<(&'static str, &str, &str)> {
        self.window
            .as_ref()
            .map(|w| (self.date_field, w.begin_text.as_str(), w.end_text.as_str()))
    }

    pub fn matches(&self, o: &Value) -> bool {
        let text = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default();
        let num = |k: &str| o.get(k).and_then(Value::as_i64);
        let in_list = |list: &Option<Vec<String>>, k: &str| {
            list.as_ref().is_none_or(|ids| {
                num(k).is_some_and(|id| ids.contains(&id.to_string()))
                    || ids.iter().any(|id| id == text(k))
            })
        };
        // Cheap tests first, the window last: every query runs this over the whole book.
        self.status.as_deref().is_none_or(|s| text("status") == s)
            && self.shop_id.is_none_or(|s| num("shop_id") == Some(s))
            && self.wms_co_id.is_none_or(|w| num("wms_co_id") == Some(w))
            && self.offline.is_none_or(|f| {
                o.get("is_offline_shop")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    == f
            })
            && in_list(&self.io_ids, "io_id")
            && in_list(&self.so_ids, "so_id")
            && in_list(&self.o_ids, "o_id")
            && self
                .window
                .as_ref()
                .is_none_or(|w| w.contains(text(self.date_field)))
    }
}

/// Integers arrive as JSON numbers or strings (both occur in the wild).
/// `modified_begin..=modified_end`, also as JST's text, so that most rows outside it are
/// told apart without parsing their time (the book is scanned on every query).
#[derive(Debug, Clone)]
struct TimeWindow {
    begin: NaiveDateTime,
    end: NaiveDateTime,
    begin_text: String,
    end_text: String,
}

impl TimeWindow {
    fn new(begin: NaiveDateTime, end: NaiveDateTime) -> Self {
        Self {
            begin,
            end,
            begin_text: begin.format(JST_TIME_FORMAT).to_string(),
            end_text: end.format(JST_TIME_FORMAT).to_string(),
        }
    }

    /// Whether `text` is a JST time within the window. A text in JST's zero-padded form
    /// (`yyyy-MM-dd HH:mm:ss`) sorts as its time, so one sorting outside is outside (or no
    /// time at all); anything else is parsed.
    fn contains(&self, text: &str) -> bool {
        if crate::orders::is_jst_time_text(text)
            && (text < self.begin_text.as_str() || text > self.end_text.as_str())
        {
            return false;
        }
        NaiveDateTime::parse_from_str(text, JST_TIME_FORMAT)
            .is_ok_and(|t| self.begin <= t && t <= self.end)
    }
}

fn int(biz: &Value, key: &str) -> Result<Option<i64>, String> {
    match biz.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or(format!("{key} must be an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be an integer")),
        Some(_) => Err(format!("{key} must be an integer")),
    }
}

/// Booleans arrive as JSON booleans or as "true"/"false".
fn boolean(biz: &Value, key: &str) -> Result<Option<bool>, String> {
    match biz.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be true or false")),
        Some(_) => Err(format!("{key} must be true or false")),
    }
}

fn time(biz: &Value, key: &str) -> Result<Option<NaiveDateTime>, String> {
    match biz.get(key).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => NaiveDateTime::parse_from_str(s, JST_TIME_FORMAT)
            .map(Some)
            .map_err(|_| format!("{key} must be yyyy-MM-dd HH:mm:ss")),
    }
}

fn string_list(biz: &Value, key: &str) -> Option<Vec<String>> {
    biz.get(key)?.as_array().map(|a| {
        a.iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const DAY: (&str, &str) = ("2026-11-25 00:00:00", "2026-11-25 23:59:59");

    fn parse(biz: Value) -> Result<OutboundQuery, String> {
        OutboundQuery::parse(&biz)
    }

    #[test]
    fn start_ts_alone_is_not_enough() {
        let err = parse(json!({"start_ts": 1})).expect_err("no window");
        assert!(err.contains("modified_begin"), "{err}");
        let q = parse(json!({"start_ts": "7", "o_ids": [1], "is_get_total": "false"}))
            .expect("ids suffice");
        assert_eq!((q.start_ts, q.get_total), (Some(7), false));
    }

    #[test]
    fn start_ts_keeps_rows_at_or_after_the_cursor() {
        let q = parse(json!({"io_ids": ["1", 2, 3], "start_ts": 20})).expect("valid");
        assert!(!q.matches(&json!({"io_id": 1, "ts": 19})));
        assert!(q.matches(&json!({"io_id": 2, "ts": 20})));
        assert!(q.matches(&json!({"io_id": 3, "ts": 21})));
        assert!(!q.matches(&json!({"io_id": 4, "ts": 30})));
    }

    #[test]
    fn date_type_picks_the_field_the_window_applies_to() {
        let order = json!({"modified": "2026-11-26 08:00:00", "io_date": "2026-11-25 08:00:00"});
        let q = |date_type| {
            parse(json!({"modified_begin": DAY.0, "modified_end": DAY.1, "date_type": date_type}))
                .expect("valid")
        };
        assert!(!q(0).matches(&order));
        assert!(q(2).matches(&order));
    }

    #[test]
    fn the_window_holds_its_bounds_and_nothing_outside_in_any_time_form() {
        let q = parse(json!({"modified_begin": DAY.0, "modified_end": DAY.1})).expect("valid");
        let at = |modified: &str| q.matches(&json!({"modified": modified}));
        for inside in [DAY.0, "2026-11-25 12:00:00", DAY.1, "2026-11-25 9:05:00"] {
            assert!(at(inside), "{inside} is inside");
        }
        for outside in [
            "2026-11-24 23:59:59",
            "2026-11-26 00:00:00",
            "2026-11-26 0:00:00",
            "2026-11-25 24:00:00",
            "2026-11-25T12:00:00",
            "",
        ] {
            assert!(!at(outside), "{outside} is outside");
        }
    }
}
