//! An app's current token pair, as both simulated APIs keep it: one access token (JST's
//! `access_token`, T+'s `openToken`) and one refresh token. Issuing a new pair replaces the
//! old one at once: the previous access token is refused from then on, and the previous
//! refresh token cannot be used again.

use std::time::{Duration, Instant};

use rand::RngExt;
use rand::rngs::StdRng;

/// No `Debug`: it holds secrets.
pub struct TokenPair {
    access: String,
    refresh: String,
    issued: Instant,
    revoked: bool,
    /// Source of new tokens; not a fault RNG, so faults replay the same whatever tokens were
    /// issued, and not seeded, so tokens differ between runs.
    rng: StdRng,
}

/// A pair an operator obtained from the vendor's console (admin `PUT …/tokens`): it replaces
/// the app's current pair at once, as re-authorising an app does. No `Debug`: secrets.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct NewPair {
    pub access_token: String,
    pub refresh_token: String,
}

/// A freshly issued pair, for the endpoint to put into its answer.
pub struct Issued {
    pub access: String,
    pub refresh: String,
}

impl TokenPair {
    /// The configured pair, counted as issued now.
    pub fn new(access: String, refresh: String) -> Self {
        Self {
            access,
            refresh,
            issued: Instant::now(),
            revoked: false,
            rng: rand::make_rng(),
        }
    }

    /// The app was authorised again: `pair` replaces the current one (old tokens refused).
    pub fn replace(&mut self, pair: NewPair, now: Instant) {
        self.access = pair.access_token;
        self.refresh = pair.refresh_token;
        self.issued = now;
        self.revoked = false;
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

    /// The current access token is refused from now on (until a new one is issued). The
    /// refresh token stays valid, so a client can recover.
    pub fn revoke(&mut self) {
        self.revoked = true;
    }

    /// Replaces both tokens with fresh random ones.
    pub fn issue(&mut self, now: Instant) -> Issued {
        self.access = self.token();
        self.refresh = self.token();
        self.issued = now;
        self.revoked = false;
        Issued {
            access: self.access.clone(),
            refresh: self.refresh.clone(),
        }
    }

    /// 32 lowercase hex digits.
    fn token(&mut self) -> String {
        format!(
            "{:016x}{:016x}",
            self.rng.random::<u64>(),
            self.rng.random::<u64>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuing_replaces_both_tokens_and_lifts_a_revocation() {
        let mut tokens = TokenPair::new("a".into(), "r".into());
        let t0 = Instant::now();
        assert!(tokens.accepts("a", None, t0));
        assert!(!tokens.accepts("b", None, t0));
        assert!(tokens.is_refresh_token("r"));
        tokens.revoke();
        assert!(!tokens.accepts("a", None, t0));
        assert!(
            tokens.is_refresh_token("r"),
            "revoking keeps the refresh token"
        );
        let issued = tokens.issue(t0);
        assert_eq!((issued.access.len(), issued.refresh.len()), (32, 32));
        assert_ne!(issued.access, issued.refresh);
        assert!(tokens.accepts(&issued.access, None, t0));
        assert!(!tokens.accepts("a", None, t0));
        assert!(tokens.is_refresh_token(&issued.refresh));
        assert!(!tokens.is_refresh_token("r"));
    }

    #[test]
    fn a_ttl_counts_from_issue() {
        let mut tokens = TokenPair::new("a".into(), "r".into());
        let t0 = Instant::now();
        let access = tokens.issue(t0).access;
        assert!(tokens.accepts(&access, Some(10), t0 + Duration::from_secs(9)));
        assert!(!tokens.accepts(&access, Some(10), t0 + Duration::from_secs(10)));
        assert!(tokens.accepts(&access, None, t0 + Duration::from_secs(10_000)));
    }
}
