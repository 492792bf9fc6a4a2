//! `inventory/Query` and `warehouse/Query` over the simulated master data: `param.Code` and
//! `param.Name` filter (`%` is a wildcard at either end: `%kw%` contains, `kw%` starts with,
//! no `%` is exact), `param.PageSize` (≤ 1000) with `param.PageIndex` (1-based) pages the
//! rows sorted by code, no `PageSize` means every row. The answer is a bare JSON array of
//! `{"Code","Name"}`. All behind [`admission::admit_read`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::admission::{self, Refusal};
use super::master_data::Kind;
use super::vouchers::serve;
use crate::demo_data;
use crate::state::Store;

/// T+'s documented cap on `PageSize`.
pub const MAX_PAGE_SIZE: u64 = 1000;

pub fn routes() -> Router<Store> {
    Router::new()
        .route(j2t_tplus::INVENTORY_QUERY_PATH, post(inventories))
        .route(j2t_tplus::WAREHOUSE_QUERY_PATH, post(warehouses))
}

async fn inventories(State(store): State<Store>, headers: HeaderMap, body: Bytes) -> Response {
    serve(store, headers, body, |store, body| {
        query(store, body, Kind::Inventory)
    })
    .await
}

async fn warehouses(State(store): State<Store>, headers: HeaderMap, body: Bytes) -> Response {
    serve(store, headers, body, |store, body| {
        query(store, body, Kind::Warehouse)
    })
    .await
}

fn query(store: &Store, body: &[u8], kind: Kind) -> Result<Value, Refusal> {
    let request = admission::json_object(body)?;
    let query = Query::parse(&request)?;
    let codes: Vec<String> = store.with(|d| {
        let master = &d.tplus.master;
        match kind {
            Kind::Inventory => master.inventories.iter().cloned().collect(),
            Kind::Warehouse => master.warehouses.iter().cloned().collect(),
        }
    });
    let rows = codes
        .into_iter()
        .map(|code| {
            let name = name_of(kind, &code);
            (code, name)
        })
        .filter(|(code, name)| query.matches(code, name));
    let rows: Vec<Value> = match query.page {
        Some((index, size)) => rows
            .skip(((index - 1) * size) as usize)
            .take(size as usize)
            .map(row)
            .collect(),
        None => rows.map(row).collect(),
    };
    Ok(Value::Array(rows))
}

fn row((code, name): (String, String)) -> Value {
    json!({"Code": code, "Name": name})
}

/// The demo catalogue's names; codes added through the admin API are their own names.
fn name_of(kind: Kind, code: &str) -> String {
    match kind {
        Kind::Inventory => demo_data::inventory_name(code)
            .map(str::to_string)
            .unwrap_or_else(|| code.to_string()),
        Kind::Warehouse => format!("仓库{code}"),
    }
}

#[derive(Debug, PartialEq)]
struct Query {
    code: Option<String>,
    name: Option<String>,
    /// (1-based page index, page size)
    page: Option<(u64, u64)>,
}

impl Query {
    fn parse(body: &Map<String, Value>) -> Result<Self, Refusal> {
        let empty = Map::new();
        let param = match body.get("param") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(param)) => param,
            Some(_) => return Err(Refusal::rejected("param 必须是对象")),
        };
        let text = |key: &str| {
            param
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let number = |key: &str| match param.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .map(Some)
                .ok_or_else(|| Refusal::rejected(format!("{key} 必须是正整数"))),
        };
        let page = match (number("PageSize")?, number("PageIndex")?) {
            (None, _) => None,
            (Some(size), _) if !(1..=MAX_PAGE_SIZE).contains(&size) => {
                return Err(Refusal::rejected(format!(
                    "PageSize 必须在 1 到 {MAX_PAGE_SIZE} 之间"
                )));
            }
            (Some(_), Some(0)) => return Err(Refusal::rejected("PageIndex 从 1 开始")),
            (Some(size), index) => Some((index.unwrap_or(1), size)),
        };
        Ok(Self {
            code: text("Code"),
            name: text("Name"),
            page,
        })
    }

    fn matches(&self, code: &str, name: &str) -> bool {
        self.code.as_deref().is_none_or(|p| like(p, code))
            && self.name.as_deref().is_none_or(|p| like(p, name))
    }
}

/// SQL-`LIKE`-style match with `%` at either end only.
fn like(pattern: &str, value: &str) -> bool {
    let (starts, rest) = match pattern.strip_prefix('%') {
        Some(rest) => (false, rest),
        None => (true, pattern),
    };
    let (ends, kw) = match rest.strip_suffix('%') {
        Some(kw) => (false, kw),
        None => (true, rest),
    };
    match (starts, ends) {
        (true, true) => value == kw,
        (true, false) => value.starts_with(kw),
        (false, true) => value.ends_with(kw),
        (false, false) => value.contains(kw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        let cases = [
            ("%TEA%", "SKU-TEA-001", true),
            ("%TEA%", "SKU-CUP-001", false),
            ("SKU%", "SKU-TEA-001", true),
            ("%001", "SKU-TEA-001", true),
            ("%002", "SKU-TEA-001", false),
            ("SKU-TEA-001", "SKU-TEA-001", true),
            ("SKU-TEA", "SKU-TEA-001", false),
            ("%", "anything", true),
            ("%茶%", "龙井茶 250g", true),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(like(pattern, value), expected, "{pattern} ~ {value}");
        }
    }

    #[test]
    fn query_params() {
        let parse = |body: Value| Query::parse(body.as_object().expect("object")).ok();
        let q = |code: Option<&str>, page| Query {
            code: code.map(str::to_string),
            name: None,
            page,
        };
        let cases = [
            (json!({"param": {}}), Some(q(None, None))),
            (json!({}), Some(q(None, None))),
            (
                json!({"param": {"Code": "%A%"}}),
                Some(q(Some("%A%"), None)),
            ),
            (
                json!({"param": {"PageSize": 2}}),
                Some(q(None, Some((1, 2)))),
            ),
            (
                json!({"param": {"PageSize": "1000", "PageIndex": 3}}),
                Some(q(None, Some((3, 1000)))),
            ),
            (json!({"param": {"PageSize": 1001}}), None),
            (json!({"param": {"PageSize": 0}}), None),
            (json!({"param": {"PageSize": 5, "PageIndex": 0}}), None),
            (json!({"param": []}), None),
        ];
        for (body, expected) in cases {
            assert_eq!(parse(body.clone()), expected, "{body}");
        }
    }
}
