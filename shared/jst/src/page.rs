//! Reading an outbound-query answer without letting one bad order spoil the page.
//!
//! The answer is first decoded as a whole. If that fails (invalid UTF-8 or a lone surrogate
//! escape in one remark, broken syntax), the body is split at the byte level — JSON's
//! structural characters are ASCII, and no byte of a multi-byte UTF-8 sequence is, so the split
//! holds even around invalid bytes — into the envelope and each order of `datas`. The envelope
//! is decoded on its own and each order separately: the orders that decode are kept, the rest
//! come back as [`UnreadableOrder`]s with their raw text. Only an envelope that cannot be read
//! (no `code`, or no `datas` array to be found) fails the page.
//!
//! Missing paging fields are filled in from the query and the other fields: `has_next` from
//! `page_count`/`data_count`, or from a full page when no totals are given.

use std::ops::Range;

use serde::Deserialize;
use serde_json::Value;

use crate::{OutboundPage, OutboundQuery};

/// An order of a page that is not valid JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableOrder {
    /// Its `io_id`, when that much could be read.
    pub io_id: Option<i64>,
    /// Its `status`, when that much could be read (a plain string without escapes).
    pub status: Option<String>,
    /// Its text as received (invalid UTF-8 replaced by U+FFFD).
    pub raw: String,
    /// Why it could not be decoded.
    pub reason: String,
}

/// What the envelope of an answer says, once decoded.
#[derive(Debug)]
pub(crate) struct Answer<T> {
    pub code: i64,
    pub msg: String,
    pub data: Option<T>,
}

#[derive(Deserialize)]
struct Head {
    code: Option<i64>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    data: Option<PageHead>,
}

#[derive(Deserialize)]
struct PageHead {
    page_index: Option<u32>,
    page_size: Option<u32>,
    data_count: Option<u64>,
    page_count: Option<u64>,
    has_next: Option<bool>,
    #[serde(default)]
    datas: Option<Vec<Value>>,
}

/// Decodes an outbound-query answer. `Err` only when the envelope itself cannot be read.
pub(crate) fn decode_page(
    body: &[u8],
    query: &OutboundQuery,
) -> Result<Answer<OutboundPage>, String> {
    let (head, unreadable) = match serde_json::from_slice::<Head>(body) {
        Ok(head) => (head, Vec::new()),
        Err(whole) => split_decode(body).map_err(|e| format!("{whole}; {e}"))?,
    };
    let code = head.code.ok_or("the answer has no `code`")?;
    let data = head.data.map(|page| {
        let datas = page.datas.unwrap_or_default();
        let page_index = page.page_index.unwrap_or(query.page_index);
        let page_size = page.page_size.unwrap_or(query.page_size);
        let returned = (datas.len() + unreadable.len()) as u64;
        let has_next = page.has_next.unwrap_or_else(|| {
            match (page.page_count, page.data_count) {
                (Some(count), _) if count > 0 => u64::from(page_index) < count,
                (_, Some(total)) if total > 0 => {
                    u64::from(page_index) * u64::from(page_size) < total
                }
                // No totals: a full page is the only hint that more may follow.
                _ => returned >= u64::from(page_size),
            }
        });
        OutboundPage {
            page_index,
            page_size,
            data_count: page.data_count.unwrap_or(0),
            page_count: page.page_count.unwrap_or(0),
            has_next,
            datas,
            unreadable,
        }
    });
    Ok(Answer {
        code,
        msg: head.msg.unwrap_or_default(),
        data,
    })
}

/// The slow path: the envelope without its orders, then each order on its own.
fn split_decode(body: &[u8]) -> Result<(Head, Vec<UnreadableOrder>), String> {
    let root = members(body, skip_ws(body, 0)).ok_or("the answer is not a JSON object")?;
    let Some(data) = member(&root, b"data") else {
        // No data at all (an error answer): decode what there is, leniently.
        return Ok((lenient(body)?, Vec::new()));
    };
    let page = members(body, data.start).ok_or("`data` is not an object")?;
    let datas = member(&page, b"datas").ok_or("`data` has no `datas`")?;
    let orders = elements(body, datas.start).ok_or("`datas` is not an array")?;
    let mut rest = Vec::with_capacity(body.len() - datas.len() + 2);
    rest.extend_from_slice(&body[..datas.start]);
    rest.extend_from_slice(b"[]");
    rest.extend_from_slice(&body[datas.end..]);
    let mut head = lenient(&rest)?;
    let mut good = Vec::with_capacity(orders.len());
    let mut bad = Vec::new();
    for span in orders {
        let text = &body[span];
        match serde_json::from_slice::<Value>(text) {
            Ok(order) => good.push(order),
            Err(error) => bad.push(UnreadableOrder {
                io_id: io_id_in(text),
                status: status_in(text),
                raw: String::from_utf8_lossy(text).into_owned(),
                reason: error.to_string(),
            }),
        }
    }
    if let Some(page) = head.data.as_mut() {
        page.datas = Some(good);
    }
    Ok((head, bad))
}

/// Decodes the envelope, replacing invalid UTF-8 if need be.
fn lenient(body: &[u8]) -> Result<Head, String> {
    serde_json::from_slice(body)
        .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(body)))
        .map_err(|e| format!("the envelope cannot be read: {e}"))
}

/// The io_id of an order's raw text, if its `io_id` member can be found and is a number.
fn io_id_in(order: &[u8]) -> Option<i64> {
    let fields = members(order, skip_ws(order, 0))?;
    let span = member(&fields, b"io_id")?;
    std::str::from_utf8(&order[span]).ok()?.parse().ok()
}

/// The status of an order's raw text, if its `status` member is a string without escapes.
fn status_in(order: &[u8]) -> Option<String> {
    let fields = members(order, skip_ws(order, 0))?;
    let span = member(&fields, b"status")?;
    let text = std::str::from_utf8(&order[span]).ok()?;
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then(|| inner.to_string())
}

fn member(members: &[(&[u8], Range<usize>)], key: &[u8]) -> Option<Range<usize>> {
    members
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, span)| span.clone())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Just past the string starting at `i` (a `"`).
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Just past the JSON value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let end = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .map_or(b.len(), |n| i + n);
            (end > i).then_some(end)
        }
    }
}

/// The members of the object starting at `i`: each key's bytes (unquoted, unescaped as
/// received) and its value's span.
fn members(b: &[u8], i: usize) -> Option<Vec<(&[u8], Range<usize>)>> {
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, j)?;
        let key = &b[j + 1..key_end - 1];
        j = skip_ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(b, j + 1);
        let end = value_end(b, j)?;
        out.push((key, j..end));
        j = skip_ws(b, end);
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b'}' => return Some(out),
            _ => return None,
        }
    }
}

/// The spans of the elements of the array starting at `i`.
fn elements(b: &[u8], i: usize) -> Option<Vec<Range<usize>>> {
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = value_end(b, j)?;
        out.push(j..end);
        j = skip_ws(b, end);
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b']' => return Some(out),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn query() -> OutboundQuery {
        OutboundQuery {
            page_index: 1,
            page_size: 50,
            ..Default::default()
        }
    }

    fn body(datas: &str) -> Vec<u8> {
        format!(
            r#"{{"code":0,"msg":"ok","data":{{"page_index":1,"page_size":50,"data_count":3,"page_count":1,"has_next":false,"datas":[{datas}]}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_clean_page_decodes_whole() {
        let answer = decode_page(&body(r#"{"io_id":1},{"io_id":2}"#), &query()).expect("reads");
        let page = answer.data.expect("data");
        assert_eq!(answer.code, 0);
        assert_eq!(page.datas, vec![json!({"io_id":1}), json!({"io_id":2})]);
        assert!(page.unreadable.is_empty());
        assert!(!page.has_next);
    }

    #[test]
    fn invalid_utf8_in_one_order_spares_the_others() {
        let mut raw = body(r#"{"io_id":1},{"io_id":2,"remark":"XX"},{"io_id":3}"#);
        let at = raw.windows(2).position(|w| w == b"XX").expect("marker");
        raw[at] = 0xff;
        raw[at + 1] = 0xfe;
        let page = decode_page(&raw, &query())
            .expect("reads")
            .data
            .expect("data");
        assert_eq!(page.datas, vec![json!({"io_id":1}), json!({"io_id":3})]);
        assert_eq!(page.unreadable.len(), 1);
        assert_eq!(page.unreadable[0].io_id, Some(2));
        assert!(
            page.unreadable[0].raw.contains("remark"),
            "{:?}",
            page.unreadable
        );
    }

    #[test]
    fn a_lone_surrogate_spares_the_others() {
        let raw = body(r#"{"io_id":1,"remark":"a\ud800b"},{"io_id":2}"#);
        let page = decode_page(&raw, &query())
            .expect("reads")
            .data
            .expect("data");
        assert_eq!(page.datas, vec![json!({"io_id":2})]);
        assert_eq!(page.unreadable[0].io_id, Some(1));
        assert!(page.unreadable[0].raw.contains(r"\ud800"));
    }

    #[test]
    fn an_unreadable_order_keeps_its_status_when_it_can_be_read() {
        let raw = body(
            r#"{"io_id":1,"status":"WaitConfirm","remark":"a\ud800b"},{"io_id":2,"status":"Con\u0066irmed","remark":"\ud800"},{"io_id":3}"#,
        );
        let page = decode_page(&raw, &query())
            .expect("reads")
            .data
            .expect("data");
        let statuses: Vec<_> = page.unreadable.iter().map(|o| o.status.clone()).collect();
        // An escaped status is not guessed at.
        assert_eq!(statuses, vec![Some("WaitConfirm".to_string()), None]);
    }

    #[test]
    fn missing_has_next_is_inferred_and_missing_code_fails() {
        let raw = br#"{"code":0,"data":{"page_index":1,"page_size":2,"data_count":3,"datas":[{"io_id":1},{"io_id":2}]}}"#;
        let page = decode_page(raw, &query())
            .expect("reads")
            .data
            .expect("data");
        assert!(page.has_next);
        let raw = br#"{"data":{"has_next":false,"datas":[]}}"#;
        assert!(
            decode_page(raw, &query())
                .expect_err("no code")
                .contains("code")
        );
        let raw = br#"{"code":0,"data":{"datas":[{"io_id":1}]}}"#;
        let page = decode_page(raw, &query())
            .expect("reads")
            .data
            .expect("data");
        assert!(!page.has_next, "a short page without totals is the last");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_page(&bytes, &query());
        }

        #[test]
        fn arbitrary_bytes_inside_a_page_never_panic(
            inner in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut raw = b"{\"code\":0,\"data\":{\"datas\":[{\"io_id\":7,\"remark\":\"".to_vec();
            raw.extend(&inner);
            raw.extend(b"\"},{\"io_id\":8}]}}");
            let _ = decode_page(&raw, &query());
        }

        #[test]
        fn arbitrary_json_never_panics(value in arb_json()) {
            let raw = serde_json::to_vec(&json!({"code": 0, "data": {"datas": [value.clone()]}}))
                .expect("encodes");
            let _ = decode_page(&raw, &query());
            let raw = serde_json::to_vec(&value).expect("encodes");
            let _ = decode_page(&raw, &query());
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
