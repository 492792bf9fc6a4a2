//! What every JST endpoint shares: the checks that come before an endpoint's own work
//! (latency → rate limit → signature; token and timestamp are separate because the token
//! endpoints have no access token), and how answers are sent and counted by code.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::Store;

/// The form fields of one request (JST sends everything as form fields).
pub type Fields = HashMap<String, String>;

/// Clock skew the simulator accepts (the docs say 10 or 15 minutes).
const MAX_SKEW_SECS: i64 = 600;

pub const TOKEN_INVALID: &str = "验证失败！无效的access_token或access_token已过期";

/// A request's field, `""` when absent.
pub fn field<'a>(fields: &'a Fields, key: &str) -> &'a str {
    fields.get(key).map(String::as_str).unwrap_or_default()
}

/// Why a request was not answered with code 0.
#[derive(Debug)]
pub enum Refusal {
    /// HTTP 200 with `code != 0`, as JST reports business and auth errors.
    Api { code: i64, msg: String },
    /// An injected gateway failure: HTTP 502 with a plain-text body.
    BadGateway,
}

impl Refusal {
    pub fn api(code: i64, msg: impl Into<String>) -> Self {
        Self::Api {
            code,
            msg: msg.into(),
        }
    }

    /// Code 140 with a precise reason (JST's exact reply for these cases is not public).
    pub fn invalid(detail: &str) -> Self {
        Self::api(140, format!("参数不符合规范: {detail}"))
    }
}

/// `Ok` holds the `data` of a code-0 answer.
pub type Outcome = Result<Value, Refusal>;

/// Latency, then the rate limit (every request counts), then the signature.
pub async fn admit(store: &Store, fields: &Fields, received: Instant) -> Result<(), Refusal> {
    let latency = store.with(|d| d.jst.faults.latency_ms);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let app_key = field(fields, "app_key");
    let exceeded = store.with(|d| {
        let limits = d.jst.faults.limits();
        let exceeded = d.jst.limiter.record(app_key, received, limits);
        if exceeded.is_some() {
            *d.jst.violations.entry(app_key.to_string()).or_default() += 1;
        }
        exceeded
    });
    if let Some(limit) = exceeded {
        return Err(Refusal::api(limit.code(), limit.message()));
    }
    let creds = &store.credentials;
    let expected = j2t_jst::sign(
        &creds.jst_app_secret,
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    if app_key != creds.jst_app_key || field(fields, "sign") != expected {
        return Err(Refusal::api(10, "验证失败！无效签名"));
    }
    Ok(())
}

/// The `timestamp` field (unix seconds) must be within the accepted skew of now.
pub fn check_timestamp(fields: &Fields) -> Result<(), Refusal> {
    let now = chrono::Utc::now().timestamp();
    match field(fields, "timestamp").parse::<i64>() {
        Ok(ts) if (now - ts).abs() <= MAX_SKEW_SECS => Ok(()),
        _ => Err(Refusal::api(140, "无效的timestamp")),
    }
}

/// A required field with a fixed value (`charset=utf-8`, `grant_type=…`).
pub fn expect(fields: &Fields, key: &str, value: &str) -> Result<(), Refusal> {
    if field(fields, key) == value {
        Ok(())
    } else {
        Err(Refusal::invalid(&format!("{key} must be {value}")))
    }
}

/// Turns an outcome into the HTTP answer and counts it under its code.
pub fn finish(store: &Store, outcome: Outcome) -> Response {
    let (key, response) = match outcome {
        Ok(data) => (
            "0".to_string(),
            Json(json!({"code": 0, "msg": "执行成功", "data": data})).into_response(),
        ),
        Err(Refusal::Api { code, msg }) => (
            code.to_string(),
            Json(json!({"code": code, "msg": msg, "data": null})).into_response(),
        ),
        Err(Refusal::BadGateway) => (
            "http502".to_string(),
            (StatusCode::BAD_GATEWAY, "502 Bad Gateway").into_response(),
        ),
    };
    store.with(|d| *d.jst.requests_by_code.entry(key).or_default() += 1);
    response
}
