//! The app's access and refresh tokens, and where a client keeps them between processes.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::BoxError;

/// The current token pair. `Debug` prints `[REDACTED]` for both.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    /// When the refresh token stops working (unix seconds), when the refresh answer said
    /// (T+ `refresh_expires_in`); `None` for a configured pair.
    pub refresh_expires_at: Option<i64>,
}

/// A pair as the store keeps it: the pair, and the fingerprint of the configured pair it
/// descends from (refreshed from it, or it itself). A process configured with another
/// pair knows from the fingerprint that the operator rotated the credentials.
#[derive(Debug, Clone)]
pub struct StoredTokens {
    pub tokens: Tokens,
    /// [`Tokens::fingerprint`] of the configured pair; `None` in records written before
    /// fingerprints were kept.
    pub configured: Option<String>,
}

/// The stored form (JSON); only [`StoredTokens::to_json`] and [`StoredTokens::from_json`]
/// see it.
#[derive(Serialize, Deserialize)]
struct Stored {
    access_token: String,
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    configured: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_expires_at: Option<i64>,
}

impl Tokens {
    pub fn new(access_token: &str, refresh_token: &str) -> Self {
        Self {
            access_token: access_token.into(),
            refresh_token: refresh_token.into(),
            refresh_expires_at: None,
        }
    }

    /// The pair with its refresh token expiring `secs` from now (as a refresh answer says).
    pub fn refresh_expiring_in(mut self, secs: Option<i64>) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        self.refresh_expires_at = secs.map(|secs| now.saturating_add(secs));
        self
    }

    pub fn same_access(&self, other: &Tokens) -> bool {
        self.access_token.expose_secret() == other.access_token.expose_secret()
    }

    /// A SHA-256 of the pair (hex): tells two pairs apart without holding either secret.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(b"j2t token pair\n");
        hash.update(self.access_token.expose_secret().as_bytes());
        hash.update(b"\n");
        hash.update(self.refresh_token.expose_secret().as_bytes());
        hex::encode(hash.finalize())
    }
}

impl StoredTokens {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&Stored {
            access_token: self.tokens.access_token.expose_secret().to_string(),
            refresh_token: self.tokens.refresh_token.expose_secret().to_string(),
            configured: self.configured.clone(),
            refresh_expires_at: self.tokens.refresh_expires_at,
        })
        .unwrap_or_default()
    }

    /// `None` when `bytes` is not a stored token pair (the reason would echo secrets).
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        let stored: Stored = serde_json::from_slice(bytes).ok()?;
        let mut tokens = Tokens::new(&stored.access_token, &stored.refresh_token);
        tokens.refresh_expires_at = stored.refresh_expires_at;
        Some(Self {
            tokens,
            configured: stored.configured,
        })
    }
}

/// When a stored pair's refresh token expires, read without touching the secrets (the
/// monitor's warning); `None` when unknown or not a stored pair.
pub fn stored_refresh_expiry(bytes: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct Expiry {
        refresh_expires_at: Option<i64>,
    }
    serde_json::from_slice::<Expiry>(bytes)
        .ok()?
        .refresh_expires_at
}

/// Shared storage of the newest tokens, so every replica and every restart uses them
/// (a refresh invalidates the previous pair).
pub trait TokenStore: Send + Sync {
    fn load(&self) -> BoxFuture<'_, Result<Option<StoredTokens>, BoxError>>;
    fn save<'a>(&'a self, tokens: &'a StoredTokens) -> BoxFuture<'a, Result<(), BoxError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_pairs_apart_and_hold_no_secret() {
        let a = Tokens::new("access-1", "refresh-1");
        assert_eq!(
            a.fingerprint(),
            Tokens::new("access-1", "refresh-1").fingerprint()
        );
        assert_ne!(
            a.fingerprint(),
            Tokens::new("access-1", "refresh-2").fingerprint()
        );
        assert_ne!(
            a.fingerprint(),
            Tokens::new("access-2", "refresh-1").fingerprint()
        );
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            Tokens::new("ab", "c").fingerprint(),
            Tokens::new("a", "bc").fingerprint()
        );
        assert_eq!(a.fingerprint().len(), 64);
        assert!(!a.fingerprint().contains("access"));
    }

    #[test]
    fn stored_pairs_round_trip_and_old_records_still_read() {
        let mut tokens = Tokens::new("a", "r");
        tokens.refresh_expires_at = Some(1_800_000_000);
        let stored = StoredTokens {
            tokens,
            configured: Some("f".repeat(64)),
        };
        let bytes = stored.to_json();
        let back = StoredTokens::from_json(&bytes).expect("stored pair");
        assert_eq!(back.configured, stored.configured);
        assert_eq!(back.tokens.refresh_expires_at, Some(1_800_000_000));
        assert_eq!(stored_refresh_expiry(&bytes), Some(1_800_000_000));
        let old = StoredTokens::from_json(br#"{"access_token":"a","refresh_token":"r"}"#)
            .expect("an old record");
        assert_eq!(old.configured, None);
        assert_eq!(old.tokens.refresh_expires_at, None);
    }
}
