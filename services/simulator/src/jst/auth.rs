//! Token endpoints: `getInitToken` (own-system apps) and `refreshToken`. A new pair replaces
//! the old one at once: the previous access token is refused (code 100) from then on.

use std::time::Instant;

use axum::Router;
use axum::extract::{Form, State};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::admission::{self, Fields, Outcome, Refusal, TOKEN_INVALID, field};
use crate::state::{Api, Store};
use crate::tokens::Issued;

pub const INIT_TOKEN_PATH: &str = "/openWeb/auth/getInitToken";
pub const REFRESH_TOKEN_PATH: &str = "/openWeb/auth/refreshToken";
/// The lifetime JST announces (30 days). The `token_ttl_secs` fault makes tokens die earlier
/// than announced on purpose: clients must handle code 100, not just trust `expires_in`.
pub const EXPIRES_IN_SECS: u64 = 2_592_000;

/// The `data` of a token answer for a freshly issued pair.
fn token_data(issued: Issued) -> Value {
    json!({
        "access_token": issued.access,
        "expires_in": EXPIRES_IN_SECS,
        "refresh_token": issued.refresh,
        "scope": "all",
    })
}

pub fn routes() -> Router<Store> {
    Router::new()
        .route(INIT_TOKEN_PATH, post(init_token))
        .route(REFRESH_TOKEN_PATH, post(refresh_token))
}

async fn init_token(State(store): State<Store>, Form(fields): Form<Fields>) -> Response {
    let received = Instant::now();
    store.count_request(Api::Jst);
    let outcome = init(&store, &fields, received).await;
    admission::finish(&store, outcome)
}

async fn refresh_token(State(store): State<Store>, Form(fields): Form<Fields>) -> Response {
    let received = Instant::now();
    store.count_request(Api::Jst);
    let outcome = refresh(&store, &fields, received).await;
    admission::finish(&store, outcome)
}

async fn init(store: &Store, fields: &Fields, received: Instant) -> Outcome {
    admission::admit(store, fields, received).await?;
    admission::check_timestamp(fields)?;
    admission::expect(fields, "grant_type", "authorization_code")?;
    admission::expect(fields, "charset", "utf-8")?;
    if field(fields, "code").chars().count() != 6 {
        return Err(Refusal::invalid("code must be 6 characters"));
    }
    Ok(store.with(|d| {
        d.jst.token_refreshes += 1;
        token_data(d.jst.tokens.issue(Instant::now()))
    }))
}

async fn refresh(store: &Store, fields: &Fields, received: Instant) -> Outcome {
    admission::admit(store, fields, received).await?;
    admission::check_timestamp(fields)?;
    admission::expect(fields, "grant_type", "refresh_token")?;
    admission::expect(fields, "charset", "utf-8")?;
    admission::expect(fields, "scope", "all")?;
    let given = field(fields, "refresh_token");
    store.with(|d| {
        if !d.jst.tokens.is_refresh_token(given) {
            return Err(Refusal::api(100, TOKEN_INVALID));
        }
        d.jst.token_refreshes += 1;
        Ok(token_data(d.jst.tokens.issue(Instant::now())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_data_announces_thirty_days() {
        let data = token_data(Issued {
            access: "a".into(),
            refresh: "r".into(),
        });
        assert_eq!(
            data,
            json!({"access_token": "a", "expires_in": 2_592_000, "refresh_token": "r", "scope": "all"})
        );
    }
}
