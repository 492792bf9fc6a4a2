//! Token endpoints: `getInitToken` (own-system apps) and `refreshToken`. A new pair replaces
//! the old one at once: the previous access token is refused (code 100) from then on.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, State};
use axum::response::Response;
use axum::routing::post;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use super::gate::{self, Fields, Outcome, Refusal, TOKEN_INVALID, field};
use crate::state::{Api, Store};

pub const INIT_TOKEN_PATH: &str = "/openWeb/auth/getInitToken";
pub const REFRESH_TOKEN_PATH: &str = "/openWeb/auth/refreshToken";
/// The lifetime JST announces (30 days). The `token_ttl_secs` fault makes tokens die earlier
/// than announced on purpose: clients must handle code 100, not just trust `expires_in`.
pub const EXPIRES_IN_SECS: u64 = 2_592_000;

/// The app's current token pair. No `Debug`: it holds secrets.
pub struct Tokens {
    access: String,
    refresh: String,
    issued: Instant,
    revoked: bool,
    /// Source of new tokens; not the fault RNG, so faults replay the same whatever tokens
    /// were issued, and not seeded, so tokens differ between runs.
    rng: StdRng,
}

impl Tokens {
    pub fn new(access: String, refresh: String) -> Self {
        Self {
            access,
            refresh,
            issued: Instant::now(),
            revoked: false,
            rng: StdRng::seed_from_u64(unpredictable_seed()),
        }
    }

    /// `token` is the current access token, not revoked and not older than `ttl_secs`.
    pub fn accepts(&self, token: &str, ttl_secs: Option<u64>, now: Instant) -> bool {
        !self.revoked
            && token == self.access
            && ttl_secs.is_none_or(|ttl| {
                now.saturating_duration_since(self.issued) < Duration::from_secs(ttl)
            })
    }

    pub fn is_refresh_token(&self, token: &str) -> bool {
        token == self.refresh
    }

    /// The current access token is refused from now on (until a new one is issued).
    pub fn revoke(&mut self) {
        self.revoked = true;
    }

    /// Replaces both tokens; returns the `data` of the answer.
    pub fn issue(&mut self, now: Instant) -> Value {
        self.access = self.token();
        self.refresh = self.token();
        self.issued = now;
        self.revoked = false;
        json!({
            "access_token": self.access,
            "expires_in": EXPIRES_IN_SECS,
            "refresh_token": self.refresh,
            "scope": "all",
        })
    }

    /// 32 lowercase hex digits, like JST's tokens.
    fn token(&mut self) -> String {
        format!(
            "{:016x}{:016x}",
            self.rng.random::<u64>(),
            self.rng.random::<u64>()
        )
    }
}

/// std seeds every `RandomState` from the OS; hashing nothing with one yields a random
/// number without the OS-rng feature of `rand`.
fn unpredictable_seed() -> u64 {
    RandomState::new().build_hasher().finish()
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
    gate::finish(&store, outcome)
}

async fn refresh_token(State(store): State<Store>, Form(fields): Form<Fields>) -> Response {
    let received = Instant::now();
    store.count_request(Api::Jst);
    let outcome = refresh(&store, &fields, received).await;
    gate::finish(&store, outcome)
}

async fn init(store: &Store, fields: &Fields, received: Instant) -> Outcome {
    gate::admit(store, fields, received).await?;
    gate::check_timestamp(fields)?;
    gate::expect(fields, "grant_type", "authorization_code")?;
    gate::expect(fields, "charset", "utf-8")?;
    if field(fields, "code").chars().count() != 6 {
        return Err(Refusal::invalid("code must be 6 characters"));
    }
    Ok(store.with(|d| {
        d.jst.token_refreshes += 1;
        d.jst.tokens.issue(Instant::now())
    }))
}

async fn refresh(store: &Store, fields: &Fields, received: Instant) -> Outcome {
    gate::admit(store, fields, received).await?;
    gate::check_timestamp(fields)?;
    gate::expect(fields, "grant_type", "refresh_token")?;
    gate::expect(fields, "charset", "utf-8")?;
    gate::expect(fields, "scope", "all")?;
    let given = field(fields, "refresh_token");
    store.with(|d| {
        if !d.jst.tokens.is_refresh_token(given) {
            return Err(Refusal::api(100, TOKEN_INVALID));
        }
        d.jst.token_refreshes += 1;
        Ok(d.jst.tokens.issue(Instant::now()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuing_replaces_both_tokens_and_lifts_a_revocation() {
        let mut tokens = Tokens::new("a".into(), "r".into());
        let t0 = Instant::now();
        assert!(tokens.accepts("a", None, t0));
        assert!(!tokens.accepts("b", None, t0));
        tokens.revoke();
        assert!(!tokens.accepts("a", None, t0));
        let data = tokens.issue(t0);
        let access = data["access_token"].as_str().unwrap_or_default();
        let refresh = data["refresh_token"].as_str().unwrap_or_default();
        assert_eq!((access.len(), refresh.len()), (32, 32));
        assert_ne!(access, refresh);
        assert!(tokens.accepts(access, None, t0));
        assert!(!tokens.accepts("a", None, t0));
        assert!(tokens.is_refresh_token(refresh));
        assert!(!tokens.is_refresh_token("r"));
        assert_eq!(data["expires_in"], 2_592_000);
    }

    #[test]
    fn a_ttl_counts_from_issue() {
        let mut tokens = Tokens::new("a".into(), "r".into());
        let t0 = Instant::now();
        tokens.issue(t0);
        let access = tokens.access.clone();
        assert!(tokens.accepts(&access, Some(10), t0 + Duration::from_secs(9)));
        assert!(!tokens.accepts(&access, Some(10), t0 + Duration::from_secs(10)));
        assert!(tokens.accepts(&access, None, t0 + Duration::from_secs(10_000)));
    }
}
