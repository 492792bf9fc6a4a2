//! Which io_ids were already published, and by which window: the fetcher's guard against
//! counting an order twice (window overlap, `>=` start_ts pages, an order modified after it
//! shipped and so fetched again in a later window).
//!
//! Kept in NATS KV (file storage), so it holds across restarts and replicas. An io_id is
//! marked only after its PubAck, by its window (`task/window`). A crash before the mark means
//! the same window is fetched again (the cursor still names it) and publishes with the same
//! Nats-Msg-Id, which JetStream deduplicates.

use std::collections::HashMap;

use async_nats::jetstream::kv;
use futures::StreamExt;

/// KV round trips in flight at once.
const CONCURRENCY: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("synced-io_id store: {0}")]
pub struct SeenError(Box<dyn std::error::Error + Send + Sync>);

#[derive(Clone)]
pub struct SeenIds {
    kv: kv::Store,
}

impl SeenIds {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    /// The window that published each of `io_ids`, for those already published.
    pub async fn owners(&self, io_ids: &[i64]) -> Result<HashMap<i64, String>, SeenError> {
        let found: Vec<_> = futures::stream::iter(io_ids.iter().copied())
            .map(|io_id| async move { (io_id, self.kv.get(io_id.to_string()).await) })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut owners = HashMap::new();
        for (io_id, value) in found {
            if let Some(owner) = value.map_err(|e| SeenError(e.into()))? {
                owners.insert(io_id, String::from_utf8_lossy(&owner).into_owned());
            }
        }
        Ok(owners)
    }

    /// Records `io_ids` as published by `owner` (first writer wins).
    pub async fn mark(&self, io_ids: &[i64], owner: &str) -> Result<(), SeenError> {
        let results: Vec<_> = futures::stream::iter(io_ids.iter().copied())
            .map(|io_id| async move {
                match self
                    .kv
                    .create(io_id.to_string(), owner.to_string().into())
                    .await
                {
                    Err(e) if e.kind() != kv::CreateErrorKind::AlreadyExists => {
                        Err(SeenError(e.into()))
                    }
                    _ => Ok(()),
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
    }
}
