//! The hook through which every request passes before it is sent.

use futures::future::BoxFuture;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Admits one request to the API; waits as long as the app's rate limits require.
pub trait RequestGate: Send + Sync {
    fn admit(&self) -> BoxFuture<'_, Result<(), BoxError>>;
}
