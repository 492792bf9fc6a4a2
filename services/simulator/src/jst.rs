//! `POST /open/orders/out/simple/query`, as documented in jushuitan-api.md: form fields,
//! signature, token, timestamp, `biz` validation, filters and paging.

use std::collections::HashMap;

use axum::extract::{Form, State};
use axum::routing::post;
use axum::{Json, Router};
use chrono::NaiveDateTime;
use j2t_domain::JST_TIME_FORMAT;
use serde_json::{Value, json};

use crate::state::{Api, Store};

pub fn routes() -> Router<Store> {
    Router::new().route(j2t_jst::OUTBOUND_QUERY_PATH, post(outbound_query))
}

/// Clock skew the simulator accepts (the docs say 10 or 15 minutes).
const MAX_SKEW_SECS: i64 = 600;
const MAX_WINDOW_SECS: i64 = 7 * 86_400;

fn error(code: i64, msg: &str) -> Json<Value> {
    Json(json!({"code": code, "msg": msg, "data": null}))
}

fn invalid(detail: &str) -> Json<Value> {
    error(140, &format!("参数不符合规范: {detail}"))
}

/// Integers arrive as JSON numbers or strings (both occur in the wild).
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

async fn outbound_query(
    State(store): State<Store>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    store.count_request(Api::Jst);
    let creds = &store.credentials;
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let expected = j2t_jst::sign(
        &creds.jst_app_secret,
        form.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    if field("app_key") != creds.jst_app_key || field("sign") != expected {
        return error(10, "验证失败！无效签名");
    }
    if field("access_token") != creds.jst_access_token {
        return error(100, "验证失败！无效的access_token或access_token已过期");
    }
    let now = chrono::Utc::now().timestamp();
    match field("timestamp").parse::<i64>() {
        Ok(ts) if (now - ts).abs() <= MAX_SKEW_SECS => {}
        _ => return error(140, "无效的timestamp"),
    }
    if field("charset") != "utf-8" || field("version") != "2" {
        return invalid("charset=utf-8 and version=2 are required");
    }
    let biz: Value = match serde_json::from_str(field("biz")) {
        Ok(v @ Value::Object(_)) => v,
        _ => return invalid("biz must be a JSON object"),
    };
    match query(&store, &biz) {
        Ok(data) => Json(json!({"code": 0, "msg": "执行成功", "data": data})),
        Err(detail) => invalid(&detail),
    }
}

fn query(store: &Store, biz: &Value) -> Result<Value, String> {
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
    let begin = time(biz, "modified_begin")?;
    let end = time(biz, "modified_end")?;
    let io_ids = string_list(biz, "io_ids");
    let so_ids = string_list(biz, "so_ids");
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
            Some((b, e))
        }
        (None, None) => None,
        _ => return Err("modified_begin and modified_end must be given together".into()),
    };
    if window.is_none() && io_ids.is_none() && so_ids.is_none() {
        return Err("give modified_begin/modified_end or an id list (so_ids, io_ids)".into());
    }
    for (key, list) in [("so_ids", &so_ids), ("io_ids", &io_ids)] {
        if list.as_ref().is_some_and(|l| l.len() > 50) {
            return Err(format!("{key} holds more than 50 ids"));
        }
    }
    let date_field = match int(biz, "date_type")?.unwrap_or(0) {
        0 => "modified",
        2 => "io_date",
        other => return Err(format!("date_type {other} is not supported (0 or 2)")),
    };
    let status = biz
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_string);
    let shop_id = int(biz, "shop_id")?;
    let wms_co_id = int(biz, "wms_co_id")?;
    let offline = biz.get("is_offline_shop").and_then(Value::as_bool);

    let keep = |o: &Value| {
        let text = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default();
        let num = |k: &str| o.get(k).and_then(Value::as_i64);
        window.is_none_or(|(b, e)| {
            NaiveDateTime::parse_from_str(text(date_field), JST_TIME_FORMAT)
                .is_ok_and(|t| b <= t && t <= e)
        }) && status.as_deref().is_none_or(|s| text("status") == s)
            && shop_id.is_none_or(|s| num("shop_id") == Some(s))
            && wms_co_id.is_none_or(|w| num("wms_co_id") == Some(w))
            && offline.is_none_or(|f| {
                o.get("is_offline_shop")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    == f
            })
            && io_ids
                .as_ref()
                .is_none_or(|ids| num("io_id").is_some_and(|id| ids.contains(&id.to_string())))
            && so_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|id| id == text("so_id")))
    };
    let matching = store.select_orders(keep);
    let count = matching.len() as i64;
    let page_count = (count + page_size - 1) / page_size;
    let datas: Vec<Value> = matching
        .into_iter()
        .skip(((page_index - 1) * page_size) as usize)
        .take(page_size as usize)
        .collect();
    Ok(json!({
        "page_size": page_size,
        "page_index": page_index,
        "data_count": count,
        "page_count": page_count,
        "has_next": page_index < page_count,
        "datas": datas,
    }))
}
