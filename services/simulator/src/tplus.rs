//! `POST /tplus/api/v2/otherDispatch/Create`, as documented in tplus-api.md: header auth,
//! validation, ExternalCode uniqueness. Success answers `null`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::{Api, Store};

pub fn routes() -> Router<Store> {
    Router::new().route(j2t_tplus::OTHER_DISPATCH_CREATE_PATH, post(create))
}

fn reply(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn rejected(message: &str) -> Response {
    reply(StatusCode::BAD_REQUEST, "999", message)
}

async fn create(State(store): State<Store>, headers: HeaderMap, body: String) -> Response {
    store.count_request(Api::Tplus);
    let creds = &store.credentials;
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    if header("appKey") != creds.tplus_app_key
        || header("appSecret") != creds.tplus_app_secret
        || header("openToken") != creds.tplus_open_token
    {
        return reply(
            StatusCode::UNAUTHORIZED,
            "50000",
            "认证失败: appKey/appSecret/openToken 无效",
        );
    }
    let dto = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(mut body)) => match body.remove("dto") {
            Some(dto @ Value::Object(_)) => dto,
            _ => {
                return rejected("请求缺少 dto");
            }
        },
        _ => {
            return rejected("请求体不是 JSON 对象");
        }
    };
    if let Err(problem) = validate(&dto) {
        return rejected(&problem);
    }
    let code = dto["ExternalCode"].as_str().unwrap_or_default().to_string();
    if store.insert_voucher(&code, dto) {
        (StatusCode::OK, Json(Value::Null)).into_response()
    } else {
        rejected(&format!("外部单据号[{code}]已存在"))
    }
}

fn validate(dto: &Value) -> Result<(), String> {
    let text = |v: &Value| v.as_str().map(str::trim).unwrap_or_default().to_string();
    if text(&dto["ExternalCode"]).is_empty() {
        return Err("外部单据号(ExternalCode)不能为空".into());
    }
    let date = text(&dto["VoucherDate"]);
    if chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_err() {
        return Err(format!("单据日期[{date}]格式错误"));
    }
    if text(&dto["VoucherType"]["Code"]) != "ST1024" {
        return Err("单据类型必须为 ST1024 (其他出库单)".into());
    }
    if text(&dto["Warehouse"]["Code"]).is_empty() {
        return Err("仓库不能为空".into());
    }
    let lines = dto["RDRecordDetails"].as_array().filter(|l| !l.is_empty());
    let Some(lines) = lines else {
        return Err("单据明细(RDRecordDetails)不能为空".into());
    };
    for (i, line) in lines.iter().enumerate() {
        if text(&line["Inventory"]["Code"]).is_empty() {
            return Err(format!("第{}行存货编码不能为空", i + 1));
        }
        let qty = line["BaseQuantity"].as_f64().or(line["Quantity"].as_f64());
        if !qty.is_some_and(|q| q > 0.0) {
            return Err(format!("第{}行数量必须大于0", i + 1));
        }
    }
    Ok(())
}
