//! Active/standby between fetcher replicas of one JST app, by a lease in NATS KV.
//!
//! The lease covers the whole app, not single tasks: the app's rate limit is the bottleneck,
//! so two active fetchers would not sync faster, and one active fetcher per app means no task
//! is ever polled twice at once. The holder renews every ttl/3; the bucket's max age drops an
//! unrenewed lease after ttl, and then a standby's `create` succeeds. A holder that cannot
//! renew for ttl/2 stops polling before anyone else can start.

use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
#[error("fetcher lease {key}: {source}")]
pub struct LeaseError {
    key: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

pub struct Lease {
    kv: kv::Store,
    key: String,
    holder: String,
    ttl: Duration,
}

/// A lease this process holds. `lost` is cancelled when it can no longer be trusted.
pub struct Held {
    pub lost: CancellationToken,
    renewer: tokio::task::JoinHandle<()>,
    kv: kv::Store,
    key: String,
}

impl Lease {
    pub fn new(kv: kv::Store, key: String, holder: String, ttl: Duration) -> Self {
        Self {
            kv,
            key,
            holder,
            ttl,
        }
    }

    fn error(&self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> LeaseError {
        LeaseError {
            key: self.key.clone(),
            source: source.into(),
        }
    }

    /// Waits until this process holds the lease. `None` if `shutdown` came first.
    pub async fn acquire(&self, shutdown: &CancellationToken) -> Result<Option<Held>, LeaseError> {
        let mut announced = false;
        let revision = loop {
            match self.kv.create(&self.key, self.holder.clone().into()).await {
                Ok(revision) => break revision,
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    if !announced {
                        let holder = self.kv.get(&self.key).await.ok().flatten();
                        let holder = holder.map(|h| String::from_utf8_lossy(&h).into_owned());
                        tracing::info!(lease = %self.key, ?holder, "standing by: another fetcher is active");
                        announced = true;
                    }
                }
                // NATS away (an outage, a restart): try again; the fetcher stays up.
                Err(e) => {
                    tracing::warn!(lease = %self.key, error = %self.error(e), "could not try the lease; retrying");
                }
            }
            let pause = tokio::time::sleep(self.ttl / 3);
            if shutdown.run_until_cancelled(pause).await.is_none() {
                return Ok(None);
            }
        };
        tracing::info!(lease = %self.key, holder = %self.holder, "lease acquired: this fetcher is active");
        let lost = shutdown.child_token();
        let renewer = tokio::spawn(renew(
            self.kv.clone(),
            self.key.clone(),
            self.holder.clone(),
            self.ttl,
            revision,
            lost.clone(),
        ));
        Ok(Some(Held {
            lost,
            renewer,
            kv: self.kv.clone(),
            key: self.key.clone(),
        }))
    }
}

async fn renew(
    kv: kv::Store,
    key: String,
    holder: String,
    ttl: Duration,
    mut revision: u64,
    lost: CancellationToken,
) {
    let mut renewed_at = Instant::now();
    loop {
        if lost
            .run_until_cancelled(tokio::time::sleep(ttl / 3))
            .await
            .is_none()
        {
            return;
        }
        match kv.update(&key, holder.clone().into(), revision).await {
            Ok(next) => {
                revision = next;
                renewed_at = Instant::now();
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                tracing::warn!(lease = %key, "lease taken over by another fetcher; stopping");
                lost.cancel();
                return;
            }
            Err(error) => {
                tracing::warn!(lease = %key, %error, "lease renewal failed");
                if renewed_at.elapsed() >= ttl / 2 {
                    tracing::warn!(lease = %key, "lease no longer safe; stopping");
                    lost.cancel();
                    return;
                }
            }
        }
    }
}

impl Held {
    /// Stops renewing and frees the lease so a standby takes over at once.
    pub async fn release(self) {
        self.lost.cancel();
        let _ = self.renewer.await;
        if let Err(error) = self.kv.delete(&self.key).await {
            tracing::warn!(lease = %self.key, %error, "could not release the lease; it expires by itself");
        }
    }
}
