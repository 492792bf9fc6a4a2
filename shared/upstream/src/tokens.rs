//! The app's access and refresh tokens, and where a client keeps them between processes.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::BoxError;

/// The current token pair. `Debug` prints `[REDACTED]` for both.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
}

/// The stored form (JSON); only [`Tokens::to_json`] and [`Tokens::from_json`] see it.
#[derive(Serialize, Deserialize)]
struct Stored {
    access_token: String,
    refresh_token: String,
}

impl Tokens {
    pub fn new(access_token: &str, refresh_token: &str) -> Self {
        Self {
            access_token: access_token.into(),
            refresh_token: refresh_token.into(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&Stored {
            access_token: self.access_token.expose_secret().to_string(),
            refresh_token: self.refresh_token.expose_secret().to_string(),
        })
        .unwrap_or_default()
    }

    /// `None` when `bytes` is not a stored token pair (the reason would echo secrets).
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        let stored: Stored = serde_json::from_slice(bytes).ok()?;
        Some(Self::new(&stored.access_token, &stored.refresh_token))
    }

    pub fn same_access(&self, other: &Tokens) -> bool {
        self.access_token.expose_secret() == other.access_token.expose_secret()
    }
}

/// Shared storage of the newest tokens, so every replica and every restart uses them
/// (a refresh invalidates the previous pair).
pub trait TokenStore: Send + Sync {
    fn load(&self) -> BoxFuture<'_, Result<Option<Tokens>, BoxError>>;
    fn save<'a>(&'a self, tokens: &'a Tokens) -> BoxFuture<'a, Result<(), BoxError>>;
}
