//! `GET /auth/v2/refreshToken?grantType=refresh_token&refreshToken=…` with the `appKey` and
//! `appSecret` headers. A new pair replaces the old one at once: the previous openToken is
//! refused (HTTP 401, code 50000) and the previous refresh token cannot be used again.

use std::collections::HashMap;
use std::time::Instant;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::admission::{self, Outcome, Refusal};
use crate::state::{Api, Store};
use crate::tokens::Issued;

pub const TPLUS_REFRESH_TOKEN_PATH: &str = "/auth/v2/refreshToken";
/// The openToken lifetime T+ announces (6 days). The `token_ttl_secs` fault makes tokens die
/// earlier on purpose: clients must handle 401/50000, not just trust `expires_in`.
pub const OPEN_TOKEN_EXPIRES_IN_SECS: u64 = 518_400;
/// The refresh token lifetime T+ announces (30 days); not enforced.
pub const REFRESH_EXPIRES_IN_SECS: u64 = 2_592_000;

const REFRESH_INVALID: &str = "refresh_token 无效";

pub fn routes() -> Router<Store> {
    Router::new().route(TPLUS_REFRESH_TOKEN_PATH, get(refresh_token))
}

async fn refresh_token(
    State(store): State<Store>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    store.count_request(Api::Tplus);
    admission::delay(&store).await;
    let outcome = refresh(&store, &headers, &params);
    admission::finish(&store, outcome)
}

/// App headers (401/50000), then grantType and the refresh token (HTTP 200, code 40001).
fn refresh(store: &Store, headers: &HeaderMap, params: &HashMap<String, String>) -> Outcome {
    admission::check_app(store, headers)?;
    let param = |key: &str| params.get(key).map(String::as_str).unwrap_or_default();
    store.with(|d| {
        if param("grantType") != "refresh_token"
            || !d.tplus.tokens.is_refresh_token(param("refreshToken"))
        {
            return Err(Refusal::Api {
                status: StatusCode::OK,
                code: "40001",
                message: REFRESH_INVALID.into(),
            });
        }
        d.tplus.token_refreshes += 1;
        Ok(envelope(d.tplus.tokens.issue(Instant::now())))
    })
}

/// The success answer for a freshly issued pair.
fn envelope(issued: Issued) -> Value {
    json!({
        "code": "200",
        "message": "success",
        "result": {
            "access_token": issued.access,
            "expires_in": OPEN_TOKEN_EXPIRES_IN_SECS,
            "refresh_token": issued.refresh,
            "refresh_expires_in": REFRESH_EXPIRES_IN_SECS,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_code_200_and_both_lifetimes() {
        let answer = envelope(Issued {
            access: "a".into(),
            refresh: "r".into(),
        });
        assert_eq!(
            answer,
            json!({"code": "200", "message": "success", "result": {
                "access_token": "a", "expires_in": 518_400,
                "refresh_token": "r", "refresh_expires_in": 2_592_000,
            }})
        );
    }
}
