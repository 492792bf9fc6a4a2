//! What every T+ endpoint shares: the added latency, the gateway's header checks, and how
//! answers are sent and counted in the stats.

use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::random::roll;
use crate::state::Store;

pub const TOKEN_INVALID: &str = "openToken 无效或已过期";
const APP_INVALID: &str = "认证失败: appKey/appSecret 无效";

/// Why a call was not answered with success.
#[derive(Debug)]
pub enum Refusal {
    /// A T+ error object `{"code","message"}` under an HTTP status: 400 for business errors,
    /// 401 for the gateway's auth and quota errors, 200 for a failed token refresh.
    Api {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// Injected protective throttling: HTTP 409 with `{"error": …}` (no `code`).
    Throttled,
    /// An injected gateway failure: HTTP 503 with a plain-text body, and `Retry-After`
    /// (seconds) when set.
    Unavailable { retry_after: Option<u64> },
    /// A proxy's maintenance page: HTTP 200 with an HTML body (nothing stored).
    MaintenancePage,
    /// An answer set through the admin API: any status, any JSON body.
    Reply { status: StatusCode, body: Value },
}

impl Refusal {
    /// A business validation error: HTTP 400, code 999.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::Api {
            status: StatusCode::BAD_REQUEST,
            code: "999",
            message: message.into(),
        }
    }

    /// A gateway error: HTTP 401 with `code` (50000 auth, 50112 quota).
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Api {
            status: StatusCode::UNAUTHORIZED,
            code,
            message: message.into(),
        }
    }
}

/// `Ok` holds the body of an HTTP 200 success (`null` for Create).
pub type Outcome = Result<Value, Refusal>;

/// The `latency_ms` fault, before anything else.
pub async fn delay(store: &Store) {
    let latency = store.with(|d| d.tplus.faults.latency_ms);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
}

/// A request header, `""` when absent or not text.
pub fn header<'a>(headers: &'a HeaderMap, key: &str) -> &'a str {
    headers
        .get(key)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The `appKey` and `appSecret` headers name the configured app.
pub fn check_app(store: &Store, headers: &HeaderMap) -> Result<(), Refusal> {
    let creds = &store.credentials;
    if header(headers, "appKey") == creds.tplus_app_key
        && header(headers, "appSecret") == creds.tplus_app_secret
    {
        Ok(())
    } else {
        Err(Refusal::unauthorized("50000", APP_INVALID))
    }
}

/// The `openToken` header is the current token, not revoked and not older than
/// `token_ttl_secs`.
pub fn check_open_token(store: &Store, headers: &HeaderMap) -> Result<(), Refusal> {
    let token = header(headers, "openToken");
    let valid = store.with(|d| {
        let ttl = d.tplus.faults.token_ttl_secs;
        d.tplus.tokens.accepts(token, ttl, Instant::now())
    });
    if valid {
        Ok(())
    } else {
        Err(Refusal::unauthorized("50000", TOKEN_INVALID))
    }
}

/// The gate of every read endpoint (FindVoucherList, GetVoucherDTO, Audit, the `Query`
/// services), in Create's order: outage → appKey/appSecret → openToken → quota → injected
/// 503 → injected 409. The read faults are drawn from their own RNG, so Create's fault
/// sequence for a seed does not depend on how many reads came in between.
pub fn admit_read(store: &Store, headers: &HeaderMap) -> Result<(), Refusal> {
    let outage = store.with(|d| {
        let faults = &d.tplus.faults;
        faults.outage.then_some(Refusal::Unavailable {
            retry_after: faults.retry_after_secs,
        })
    });
    if let Some(refusal) = outage {
        return Err(refusal);
    }
    check_app(store, headers)?;
    check_open_token(store, headers)?;
    store.with(|d| {
        let tplus = &mut d.tplus;
        let faults = &tplus.faults;
        if faults.quota_exhausted {
            return Err(Refusal::unauthorized("50112", "调用次数已用完"));
        }
        let unavailable = roll(&mut tplus.read_rng, faults.http_5xx_probability);
        let throttled = roll(&mut tplus.read_rng, faults.throttle_409_probability);
        if unavailable {
            Err(Refusal::Unavailable {
                retry_after: faults.retry_after_secs,
            })
        } else if throttled {
            Err(Refusal::Throttled)
        } else {
            Ok(())
        }
    })
}

/// A read call's body: a JSON object, else a business error.
pub fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Refusal::rejected("请求体不是 JSON 对象")),
    }
}

/// T+'s success envelope of the `*OpenApi` services.
pub fn envelope(data: Value) -> Value {
    json!({"code": "0", "message": "", "data": data})
}

/// Turns an outcome into the HTTP answer and counts it under its stats key.
pub fn finish(store: &Store, outcome: Outcome) -> Response {
    let (key, response) = match outcome {
        Ok(body) => (stats_key(StatusCode::OK, None), Json(body).into_response()),
        Err(Refusal::Api {
            status,
            code,
            message,
        }) => (
            stats_key(status, Some(code)),
            (status, Json(json!({"code": code, "message": message}))).into_response(),
        ),
        Err(Refusal::Throttled) => {
            let status = StatusCode::CONFLICT;
            let body = json!({"error": "请求过于频繁，请稍后再试"});
            (
                stats_key(status, None),
                (status, Json(body)).into_response(),
            )
        }
        Err(Refusal::Unavailable { retry_after }) => {
            let status = StatusCode::SERVICE_UNAVAILABLE;
            let body = "503 Service Unavailable";
            let mut response = (status, body).into_response();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            (stats_key(status, None), response)
        }
        Err(Refusal::Reply { status, body }) => {
            let code = match &body["code"] {
                Value::String(code) => Some(code.clone()),
                Value::Number(code) => Some(code.to_string()),
                _ => None,
            };
            (
                stats_key(status, code.as_deref()),
                (status, Json(body)).into_response(),
            )
        }
        Err(Refusal::MaintenancePage) => {
            let body = "<!DOCTYPE html><html><head><title>系统维护</title></head>\
                        <body><h1>系统维护中，请稍后再试</h1></body></html>";
            (
                "html200".to_string(),
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    body,
                )
                    .into_response(),
            )
        }
    };
    store.with(|d| *d.tplus.requests_by_code.entry(key).or_default() += 1);
    response
}

/// The key an answer is counted under (documented on `Stats::tplus_requests_by_code`): an
/// HTTP 200 answer by its T+ code (a success, which has no code, as `"200"`), any other
/// status as `http<status>_<code>`, or `http<status>` when the body carries no code.
fn stats_key(status: StatusCode, code: Option<&str>) -> String {
    match (status, code) {
        (StatusCode::OK, code) => code.unwrap_or("200").to_string(),
        (status, Some(code)) => format!("http{}_{code}", status.as_u16()),
        (status, None) => format!("http{}", status.as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_keys_name_the_code_and_any_status_but_200() {
        assert_eq!(stats_key(StatusCode::OK, None), "200");
        assert_eq!(stats_key(StatusCode::OK, Some("40001")), "40001");
        assert_eq!(
            stats_key(StatusCode::BAD_REQUEST, Some("999")),
            "http400_999"
        );
        assert_eq!(
            stats_key(StatusCode::UNAUTHORIZED, Some("50112")),
            "http401_50112"
        );
        assert_eq!(stats_key(StatusCode::CONFLICT, None), "http409");
        assert_eq!(stats_key(StatusCode::SERVICE_UNAVAILABLE, None), "http503");
    }
}
