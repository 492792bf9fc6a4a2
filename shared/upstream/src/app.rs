//! What every call to one API app needs, whichever the API: an HTTP client with the
//! configured timeout and no redirects followed, the app's current tokens, and its rate limiter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{BoxError, RateLimiter, TokenKeeper, TokenStore, Tokens};

pub struct AppAccess {
    pub http: reqwest::Client,
    pub tokens: TokenKeeper,
    limiter: Option<Arc<dyn RateLimiter>>,
}

impl AppAccess {
    /// `store` keeps refreshed tokens for other replicas and restarts; every request waits
    /// for `limiter` first.
    pub fn new(
        timeout: Duration,
        tokens: Tokens,
        store: Option<Arc<dyn TokenStore>>,
        limiter: Option<Arc<dyn RateLimiter>>,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: crate::api_http_client(timeout)?,
            tokens: TokenKeeper::new(tokens, store),
            limiter,
        })
    }

    /// Waits until the rate limiter lets one request through; returns how long that took
    /// (`None` without a limiter).
    pub async fn admit(&self) -> Result<Option<Duration>, BoxError> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        let waiting = Instant::now();
        limiter.admit().await?;
        Ok(Some(waiting.elapsed()))
    }
}
