//! `POST /open/orders/out/simple/query`, as documented in `docs/jushuitan-api.md`. Checks in
//! order: latency → rate limit → signature (10) → token (100) → timestamp (140) → injected
//! 502 → injected 199 → biz validation (140) → drift → answer.
//!
//! Without `start_ts`, rows are ordered by (`modified`, io_id): a modification moves an order
//! to the end, which is how page_index paging misses rows while data changes. With
//! `start_ts`, rows with `ts >= start_ts` are ordered by `ts`.

use std::time::Instant;

use axum::Router;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::admission::{self, Fields, Outcome, Refusal, TOKEN_INVALID, field};
use super::drift;
use super::faults::JstFaults;
use super::filter::OutboundQuery;
use super::limits::Exceeded;
use crate::random::roll;
use crate::state::{Api, Store};

pub fn routes() -> Router<Store> {
    Router::new().route(j2t_jst::OUTBOUND_QUERY_PATH, post(outbound_query))
}

async fn outbound_query(State(store): State<Store>, Form(fields): Form<Fields>) -> Response {
    let received = Instant::now();
    store.count_request(Api::Jst);
    let outcome = answer(&store, &fields, received).await;
    let faults = store.with(|d| d.jst.faults.clone());
    match outcome {
        Ok(page) if malformed(&faults, &page) => malformed_answer(&store, &faults, page),
        outcome => admission::finish(&store, outcome),
    }
}

/// Stands for the bytes the body cannot hold as JSON text until it is serialized.
const BAD_BYTES_MARK: &str = "@@J2T_BAD_BYTES@@";
const LONE_SURROGATE_MARK: &str = "@@J2T_LONE_SURROGATE@@";

fn io_ids(page: &Value) -> impl Iterator<Item = i64> + '_ {
    page["datas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["io_id"].as_i64())
}

/// Whether a malformation knob applies to this page.
fn malformed(faults: &JstFaults, page: &Value) -> bool {
    io_ids(page).any(|id| {
        faults.bad_bytes_io_ids.contains(&id)
            || faults.lone_surrogate_io_ids.contains(&id)
            || (!faults.omit_fields.is_empty() && faults.omit_fields_io_ids.contains(&id))
    })
}

/// A successful answer broken as the knobs say: bad bytes or a lone surrogate in a remark,
/// fields left out.
fn malformed_answer(store: &Store, faults: &JstFaults, mut page: Value) -> Response {
    let omit = io_ids(&page).any(|id| faults.omit_fields_io_ids.contains(&id));
    for order in page["datas"].as_array_mut().into_iter().flatten() {
        let Some(id) = order["io_id"].as_i64() else {
            continue;
        };
        if faults.bad_bytes_io_ids.contains(&id) {
            order["remark"] = json!(BAD_BYTES_MARK);
        } else if faults.lone_surrogate_io_ids.contains(&id) {
            order["remark"] = json!(LONE_SURROGATE_MARK);
        }
    }
    let mut envelope = json!({"code": 0, "msg": "执行成功", "data": page});
    if omit {
        for field in &faults.omit_fields {
            if let Some(o) = envelope.as_object_mut() {
                o.remove(field);
            }
            if let Some(o) = envelope["data"].as_object_mut() {
                o.remove(field);
            }
        }
    }
    let text = serde_json::to_string(&envelope).unwrap_or_default();
    let text = text.replace(LONE_SURROGATE_MARK, "bad \\ud800 remark");
    let mut body = Vec::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(BAD_BYTES_MARK) {
        body.extend_from_slice(&rest.as_bytes()[..at]);
        body.extend_from_slice(b"bad \xff\xfe\xc3 bytes");
        rest = &rest[at + BAD_BYTES_MARK.len()..];
    }
    body.extend_from_slice(rest.as_bytes());
    store.with(|d| *d.jst.requests_by_code.entry("0".into()).or_default() += 1);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn answer(store: &Store, fields: &Fields, received: Instant) -> Outcome {
    admission::admit(store, fields, received).await?;
    check_token(store, field(fields, "access_token"))?;
    admission::check_timestamp(fields)?;
    inject_transport_faults(store)?;
    if field(fields, "charset") != "utf-8" || field(fields, "version") != "2" {
        return Err(Refusal::invalid("charset=utf-8 and version=2 are required"));
    }
    let biz: Value = match serde_json::from_str(field(fields, "biz")) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Err(Refusal::invalid("biz must be a JSON object")),
    };
    let query = OutboundQuery::parse(&biz).map_err(|detail| Refusal::invalid(&detail))?;
    // Late commits due by now are written before anything reads the book.
    let offset = store.utc_offset_minutes;
    store.with(|d| d.book.release_due(chrono::Utc::now(), offset));
    // Data may change between any two requests of a sync: every query may drift first.
    drift::maybe_drift(store, &query.filter);
    Ok(store.with(|d| {
        // Only the rows of the window are read (the book's date index); each is still
        // checked in full, and `page` puts them in the answer's order.
        let rows: Vec<&Value> = match query.filter.window_text() {
            Some((field, begin, end)) => d
                .book
                .in_window(field, begin, end, query.start_ts)
                .filter(|o| query.matches(o))
                .collect(),
            None => d.book.iter().filter(|o| query.matches(o)).collect(),
        };
        page(rows, &query)
    }))
}

/// The current access token, not revoked (admin) and not older than `token_ttl_secs`.
fn check_token(store: &Store, token: &str) -> Result<(), Refusal> {
    let valid = store.with(|d| {
        let ttl = d.jst.faults.token_ttl_secs;
        d.jst.tokens.accepts(token, ttl, Instant::now())
    });
    if valid {
        Ok(())
    } else {
        Err(Refusal::api(100, TOKEN_INVALID))
    }
}

/// Injected faults, for requests that passed authentication: 502 first, then a spurious 199
/// (which is not a rate-limit violation).
fn inject_transport_faults(store: &Store) -> Result<(), Refusal> {
    store.with(|d| {
        let jst = &mut d.jst;
        if roll(&mut jst.rng, jst.faults.http_5xx_probability) {
            return Err(Refusal::BadGateway);
        }
        if roll(&mut jst.rng, jst.faults.throttle_probability) {
            let limit = Exceeded::PerSecond;
            return Err(Refusal::api(limit.code(), limit.message()));
        }
        Ok(())
    })
}

/// Orders the matching rows and cuts out the requested page.
fn page(mut rows: Vec<&Value>, query: &OutboundQuery) -> Value {
    sort_rows(&mut rows, query.start_ts.is_some());
    let count = rows.len() as i64;
    let datas: Vec<Value> = rows
        .into_iter()
        .skip(((query.page_index - 1) * query.page_size) as usize)
        .take(query.page_size as usize)
        .cloned()
        .collect();
    let (data_count, page_count, has_next) = if query.start_ts.is_some() && !query.get_total {
        // No total computed: a full page is the only hint that more may follow.
        (0, 0, datas.len() as i64 == query.page_size)
    } else {
        let page_count = (count + query.page_size - 1) / query.page_size;
        (count, page_count, query.page_index < page_count)
    };
    json!({
        "page_size": query.page_size,
        "page_index": query.page_index,
        "data_count": data_count,
        "page_count": page_count,
        "has_next": has_next,
        "datas": datas,
    })
}

/// Each row's key is looked up once (a lookup per comparison made sorting a busy day's rows
/// most of a query's time).
fn sort_rows(rows: &mut [&Value], by_ts: bool) {
    if by_ts {
        rows.sort_by_cached_key(|o| o.get("ts").and_then(Value::as_i64));
    } else {
        rows.sort_by_cached_key(|o| modified_key(o));
    }
}

/// The JST time format sorts chronologically as a string.
fn modified_key(o: &Value) -> (&str, Option<i64>) {
    let modified = o
        .get("modified")
        .and_then(Value::as_str)
        .unwrap_or_default();
    (modified, o.get("io_id").and_then(Value::as_i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(page: &Value) -> Vec<i64> {
        page["datas"]
            .as_array()
            .map(|a| a.iter().filter_map(|o| o["io_id"].as_i64()).collect())
            .unwrap_or_default()
    }

    /// data_count, page_count, has_next.
    fn totals(page: &Value) -> Value {
        json!([page["data_count"], page["page_count"], page["has_next"]])
    }

    fn rows() -> Vec<Value> {
        vec![
            json!({"io_id": 1, "modified": "2026-11-25 10:00:00", "ts": 30}),
            json!({"io_id": 2, "modified": "2026-11-25 09:00:00", "ts": 10}),
            json!({"io_id": 3, "modified": "2026-11-25 09:00:00", "ts": 20}),
        ]
    }

    fn query(biz: Value) -> OutboundQuery {
        OutboundQuery::parse(&biz).expect("valid biz")
    }

    #[test]
    fn without_start_ts_rows_are_ordered_by_modified_then_io_id() {
        let rows = rows();
        let q = query(json!({"io_ids": [1, 2, 3], "page_size": 2}));
        let first = page(rows.iter().collect(), &q);
        assert_eq!(ids(&first), vec![2, 3]);
        assert_eq!(totals(&first), json!([3, 2, true]));
        let q = query(json!({"io_ids": [1, 2, 3], "page_size": 2, "page_index": 2}));
        assert_eq!(ids(&page(rows.iter().collect(), &q)), vec![1]);
    }

    #[test]
    fn with_start_ts_rows_are_ordered_by_ts_and_totals_are_skipped_on_request() {
        let rows = rows();
        let q = query(
            json!({"io_ids": [1, 2, 3], "page_size": 2, "start_ts": 0, "is_get_total": false}),
        );
        let first = page(rows.iter().collect(), &q);
        assert_eq!(ids(&first), vec![2, 3]);
        assert_eq!(totals(&first), json!([0, 0, true]));
        let q = query(
            json!({"io_ids": [1, 2, 3], "page_size": 2, "start_ts": 20, "is_get_total": false}),
        );
        let kept: Vec<&Value> = rows.iter().filter(|o| q.matches(o)).collect();
        let next = page(kept, &q);
        assert_eq!(ids(&next), vec![3, 1]);
        assert_eq!(
            next["has_next"],
            json!(true),
            "a full page says: maybe more"
        );
        let q = query(json!({"io_ids": [1, 2, 3], "page_size": 2, "start_ts": 30}));
        let kept: Vec<&Value> = rows.iter().filter(|o| q.matches(o)).collect();
        let last = page(kept, &q);
        assert_eq!(ids(&last), vec![1]);
        assert_eq!(
            (&last["data_count"], &last["has_next"]),
            (&json!(1), &json!(false)),
            "is_get_total defaults to true"
        );
    }
}
