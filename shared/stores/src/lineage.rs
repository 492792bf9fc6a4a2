//! Lineage: which voucher holds each order, and what became of each voucher. Answers
//! `jst2tplus whereis IO_ID`, and keeps an io_id from being merged into two vouchers.

use std::collections::HashMap;

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use j2t_topology::names;

/// KV round trips in flight at once.
const CONCURRENCY: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("lineage: {0}")]
pub struct LineageError(Box<dyn std::error::Error + Send + Sync>);

fn error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> LineageError {
    LineageError(e.into())
}

/// The voucher an io_id was merged into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Subject of the window the order was merged from (unique per task and window).
    pub orders_subject: String,
    pub external_code: String,
}

/// What became of a voucher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoucherState {
    /// `created`, `already_exists`, `confirmed` or `dead_lettered`.
    pub state: String,
    pub detail: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Lineage {
    claims: kv::Store,
    states: kv::Store,
}

impl Lineage {
    pub fn new(topology: &j2t_topology::Topology) -> Self {
        Self {
            claims: topology.lineage.clone(),
            states: topology.voucher_state.clone(),
        }
    }

    pub async fn claim_of(&self, io_id: i64) -> Result<Option<Claim>, LineageError> {
        claim_in(&self.claims, io_id).await
    }

    /// The claims already held on `io_ids`.
    pub async fn claims(&self, io_ids: &[i64]) -> Result<HashMap<i64, Claim>, LineageError> {
        // Each future owns its store handle: futures borrowing `self` inside a stream are
        // not `Send` for every lifetime, which spawned services need.
        let found: Vec<_> = futures::stream::iter(io_ids.to_vec())
            .map(|io_id| {
                let kv = self.claims.clone();
                async move { (io_id, claim_in(&kv, io_id).await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut claims = HashMap::new();
        for (io_id, claim) in found {
            if let Some(claim) = claim? {
                claims.insert(io_id, claim);
            }
        }
        Ok(claims)
    }

    /// Claims each io_id for its voucher. Returns the io_ids another window claimed first
    /// (the caller must not emit vouchers containing them); re-claiming one's own is a no-op.
    pub async fn claim(&self, claims: &[(i64, Claim)]) -> Result<Vec<i64>, LineageError> {
        let results: Vec<_> = futures::stream::iter(claims.to_vec())
            .map(|(io_id, claim)| {
                let kv = self.claims.clone();
                async move {
                    let value = serde_json::to_vec(&claim).map_err(error)?;
                    match kv.create(io_id.to_string(), value.into()).await {
                        Ok(_) => Ok(None),
                        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                            let held = claim_in(&kv, io_id).await?;
                            Ok(held
                                .filter(|h| h.orders_subject != claim.orders_subject)
                                .map(|_| io_id))
                        }
                        Err(e) => Err(error(e)),
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut lost = Vec::new();
        for result in results {
            lost.extend(result?);
        }
        Ok(lost)
    }

    pub async fn set_state(
        &self,
        external_code: &str,
        state: &VoucherState,
    ) -> Result<(), LineageError> {
        let value = serde_json::to_vec(state).map_err(error)?;
        self.states
            .put(names::voucher_state_key(external_code), value.into())
            .await
            .map_err(error)?;
        Ok(())
    }

    pub async fn state(&self, external_code: &str) -> Result<Option<VoucherState>, LineageError> {
        let stored = self
            .states
            .get(names::voucher_state_key(external_code))
            .await
            .map_err(error)?;
        Ok(stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }
}

async fn claim_in(kv: &kv::Store, io_id: i64) -> Result<Option<Claim>, LineageError> {
    let stored = kv.get(io_id.to_string()).await.map_err(error)?;
    Ok(stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}
