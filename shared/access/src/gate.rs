//! The hook through which every request passes before it is sent.

use futures::future::BoxFuture;

use crate::BoxError;

/// Admits one request to the API; waits as long as the app's rate limits require.
pub trait RequestGate: Send + Sync {
    fn admit(&self) -> BoxFuture<'_, Result<(), BoxError>>;
}
