//! Reading vouchers back: `OtherDispatchOpenApi/FindVoucherList` (0-based `pageIndex`, rows
//! `id`/`code`/`externalcode`/`ts` in arrival order, shape per [`VoucherListKnobs`]),
//! `GetVoucherDTO` (by `voucherID` or `voucherCode`: the stored dto plus `ID` and `Code`) and
//! `Audit`. All behind [`admission::admit_read`]; an unknown voucher is HTTP 400
//! `{"code":"999","message":"单据[…]不存在"}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::admission::{self, Outcome, Refusal};
use super::replies::VoucherListKnobs;
use crate::state::{Api, Store, StoredVoucher};

/// Largest `pageSize` the simulator serves (T+'s own limit is not public).
pub const MAX_PAGE_SIZE: u64 = 1000;

pub fn routes() -> Router<Store> {
    Router::new()
        .route(j2t_tplus::FIND_VOUCHER_LIST_PATH, post(find_voucher_list))
        .route(j2t_tplus::GET_VOUCHER_DTO_PATH, post(get_voucher_dto))
        .route(j2t_tplus::AUDIT_PATH, post(audit))
}

/// Latency, the read gate, then `answer` (under the lock), counted like every T+ answer.
pub(super) async fn serve(
    store: Store,
    headers: HeaderMap,
    body: Bytes,
    answer: impl FnOnce(&Store, &[u8]) -> Outcome,
) -> Response {
    store.count_request(Api::Tplus);
    admission::delay(&store).await;
    let outcome = admission::admit_read(&store, &headers).and_then(|()| answer(&store, &body));
    admission::finish(&store, outcome)
}

async fn find_voucher_list(
    State(store): State<Store>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(store, headers, body, |store, body| {
        let request = admission::json_object(body)?;
        let page = ListRequest::parse(&request)?;
        Ok(store.with(|d| {
            let knobs = &d.tplus.replies.voucher_list;
            let rows = page.rows(d.stored_vouchers(), knobs);
            knobs.answer(rows)
        }))
    })
    .await
}

/// A FindVoucherList body.
#[derive(Debug, PartialEq)]
struct ListRequest {
    page_index: u64,
    page_size: u64,
    param_dic: Map<String, Value>,
}

impl ListRequest {
    fn parse(body: &Map<String, Value>) -> Result<Self, Refusal> {
        let number = |key: &str, default: u64| match body.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| Refusal::rejected(format!("{key} 必须是非负整数"))),
        };
        let page_index = number("pageIndex", 0)?;
        let page_size = number("pageSize", 10)?;
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(Refusal::rejected(format!(
                "pageSize 必须在 1 到 {MAX_PAGE_SIZE} 之间"
            )));
        }
        let param_dic = match body.get("paramDic") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(Refusal::rejected("paramDic 必须是对象")),
        };
        Ok(Self {
            page_index,
            page_size,
            param_dic,
        })
    }

    /// This page's rows, in arrival order (or newest first), filtered by ExternalCode when
    /// the knob names a key and `paramDic` carries it.
    fn rows(&self, vouchers: &[StoredVoucher], knobs: &VoucherListKnobs) -> Vec<Value> {
        let wanted = knobs
            .external_code_filter_key
            .as_ref()
            .and_then(|key| self.param_dic.get(key))
            .and_then(Value::as_str);
        let listed: Box<dyn Iterator<Item = &StoredVoucher>> = if knobs.newest_first {
            Box::new(vouchers.iter().rev())
        } else {
            Box::new(vouchers.iter())
        };
        let skip = self.page_index.saturating_mul(self.page_size);
        listed
            .filter(|v| wanted.is_none_or(|code| external_code(v) == code))
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(self.page_size as usize)
            .map(|v| {
                json!({"id": v.id, "code": v.code, "externalcode": external_code(v), "ts": ts(v.ts)})
            })
            .collect()
    }
}

fn external_code(v: &StoredVoucher) -> &str {
    v.dto["ExternalCode"].as_str().unwrap_or_default()
}

/// A row version as T+ shows it: a hex string.
fn ts(ts: u64) -> String {
    format!("{ts:016X}")
}

/// Which voucher a GetVoucherDTO or Audit `param` names.
#[derive(Debug, PartialEq)]
enum Wanted {
    Id(u64),
    /// An id that is no number: no voucher has it.
    NoSuchId(String),
    Code(String),
}

impl Wanted {
    fn parse(body: &Map<String, Value>, by_code: bool) -> Result<Self, Refusal> {
        let param = body.get("param").and_then(Value::as_object);
        let field = |key| {
            param
                .and_then(|p| p.get(key))
                .filter(|v| !v.is_null() && v.as_str() != Some(""))
        };
        match (field("voucherID"), field("voucherCode")) {
            (Some(Value::Number(n)), _) => Ok(n
                .as_u64()
                .map_or_else(|| Wanted::NoSuchId(n.to_string()), Wanted::Id)),
            (Some(Value::String(s)), _) => Ok(s
                .trim()
                .parse()
                .map_or_else(|_| Wanted::NoSuchId(s.clone()), Wanted::Id)),
            (Some(other), _) => Ok(Wanted::NoSuchId(other.to_string())),
            (None, Some(Value::String(code))) if by_code => Ok(Wanted::Code(code.clone())),
            _ if by_code => Err(Refusal::rejected(
                "param.voucherID 或 param.voucherCode 不能为空",
            )),
            _ => Err(Refusal::rejected("param.voucherID 不能为空")),
        }
    }

    fn matches(&self, v: &StoredVoucher) -> bool {
        match self {
            Wanted::Id(id) => v.id == *id,
            Wanted::NoSuchId(_) => false,
            Wanted::Code(code) => v.code == *code,
        }
    }

    fn not_found(&self) -> Refusal {
        let named = match self {
            Wanted::Id(id) => format!("ID {id}"),
            Wanted::NoSuchId(id) => format!("ID {id}"),
            Wanted::Code(code) => code.clone(),
        };
        Refusal::rejected(format!("单据[{named}]不存在"))
    }
}

/// The DTO as GetVoucherDTO answers it: what Create stored, plus T+'s `ID` and `Code`.
fn dto_of(v: &StoredVoucher) -> Value {
    let mut dto = v.dto.clone();
    if let Value::Object(map) = &mut dto {
        map.insert("ID".into(), json!(v.id));
        map.insert("Code".into(), json!(v.code));
        map.insert("ts".into(), json!(ts(v.ts)));
    }
    dto
}

async fn get_voucher_dto(State(store): State<Store>, headers: HeaderMap, body: Bytes) -> Response {
    serve(store, headers, body, |store, body| {
        let wanted = Wanted::parse(&admission::json_object(body)?, true)?;
        store.with(|d| {
            let found = d.stored_vouchers().iter().find(|v| wanted.matches(v));
            found
                .map(|v| admission::envelope(dto_of(v)))
                .ok_or_else(|| wanted.not_found())
        })
    })
    .await
}

/// Marks the voucher audited (a new row version); auditing twice is refused.
async fn audit(State(store): State<Store>, headers: HeaderMap, body: Bytes) -> Response {
    serve(store, headers, body, |store, body| {
        let wanted = Wanted::parse(&admission::json_object(body)?, false)?;
        store.with(|d| {
            let ts = d.next_ts();
            let voucher = d
                .voucher_mut(|v| wanted.matches(v))
                .ok_or_else(|| wanted.not_found())?;
            if voucher.audited {
                return Err(Refusal::rejected(format!("单据[{}]已审核", voucher.code)));
            }
            voucher.audited = true;
            voucher.ts = ts;
            Ok(admission::envelope(Value::Null))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tplus::ListShape;

    fn stored(id: u64, ext: &str) -> StoredVoucher {
        StoredVoucher {
            received_at: chrono::Utc::now(),
            id,
            code: format!("QC-2026-11-{id:04}"),
            ts: id,
            audited: false,
            dto: json!({"ExternalCode": ext}),
        }
    }

    fn request(body: Value) -> Result<ListRequest, Refusal> {
        ListRequest::parse(body.as_object().expect("object"))
    }

    fn ids(rows: &[Value]) -> Vec<u64> {
        rows.iter().map(|r| r["id"].as_u64().expect("id")).collect()
    }

    #[test]
    fn pages_are_zero_based_in_arrival_order() {
        let vouchers: Vec<_> = (1..=5).map(|i| stored(i, &format!("E{i}"))).collect();
        let knobs = VoucherListKnobs::default();
        let page = |i, size| {
            let req =
                request(json!({"pageIndex": i, "pageSize": size, "paramDic": {}})).expect("ok");
            ids(&req.rows(&vouchers, &knobs))
        };
        assert_eq!(page(0, 2), [1, 2]);
        assert_eq!(page(1, 2), [3, 4]);
        assert_eq!(page(2, 2), [5]);
        assert!(page(3, 2).is_empty());
        let newest = VoucherListKnobs {
            newest_first: true,
            shape: ListShape::Object,
            ..Default::default()
        };
        let req = request(json!({"pageIndex": 0, "pageSize": 2})).expect("ok");
        assert_eq!(ids(&req.rows(&vouchers, &newest)), [5, 4]);
        let row = &request(json!({}))
            .expect("defaults")
            .rows(&vouchers, &knobs)[0];
        assert_eq!(
            row,
            &json!({"id": 1, "code": "QC-2026-11-0001", "externalcode": "E1", "ts": "0000000000000001"})
        );
    }

    #[test]
    fn param_dic_filters_only_with_the_knob() {
        let vouchers: Vec<_> = (1..=3).map(|i| stored(i, &format!("E{i}"))).collect();
        let req =
            request(json!({"pageIndex": 0, "pageSize": 10, "paramDic": {"ExternalCode": "E2"}}))
                .expect("ok");
        assert_eq!(
            ids(&req.rows(&vouchers, &VoucherListKnobs::default())),
            [1, 2, 3]
        );
        let knobs = VoucherListKnobs {
            external_code_filter_key: Some("ExternalCode".into()),
            ..Default::default()
        };
        assert_eq!(ids(&req.rows(&vouchers, &knobs)), [2]);
    }

    #[test]
    fn bad_list_bodies_are_business_errors() {
        for body in [
            json!({"pageIndex": -1}),
            json!({"pageIndex": "0"}),
            json!({"pageSize": 0}),
            json!({"pageSize": 1001}),
            json!({"paramDic": []}),
        ] {
            assert!(request(body.clone()).is_err(), "{body}");
        }
    }

    #[test]
    fn vouchers_are_named_by_id_or_code() {
        let parse =
            |body: Value, by_code| Wanted::parse(body.as_object().expect("object"), by_code);
        let cases = [
            (
                json!({"param": {"voucherID": 7}}),
                true,
                Some(Wanted::Id(7)),
            ),
            (
                json!({"param": {"voucherID": "7"}}),
                true,
                Some(Wanted::Id(7)),
            ),
            (
                json!({"param": {"voucherID": "x"}}),
                true,
                Some(Wanted::NoSuchId("x".into())),
            ),
            (
                json!({"param": {"voucherCode": "QC-2026-11-0001"}}),
                true,
                Some(Wanted::Code("QC-2026-11-0001".into())),
            ),
            (json!({"param": {"voucherCode": "QC-1"}}), false, None),
            (json!({"param": {}}), true, None),
            (json!({}), true, None),
        ];
        for (body, by_code, expected) in cases {
            assert_eq!(parse(body.clone(), by_code).ok(), expected, "{body}");
        }
        let dto = dto_of(&stored(3, "E3"));
        assert_eq!(
            (dto["ID"].clone(), dto["Code"].clone()),
            (json!(3), json!("QC-2026-11-0003"))
        );
    }
}
