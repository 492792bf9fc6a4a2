//! The rate limiter every API request passes before it is sent.

use futures::future::BoxFuture;

use crate::BoxError;

/// Admits one request to the API; waits as long as the app's rate limits require.
pub trait RateLimiter: Send + Sync {
    fn admit(&self) -> BoxFuture<'_, Result<(), BoxError>>;
}
