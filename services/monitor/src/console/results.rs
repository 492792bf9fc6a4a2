//! Recent vouchers T+ accepted, read backwards from the results stream (`J2T_RESULTS`), each
//! with the JST orders (io_ids) it holds.

use j2t_domain::WriteResult;
use j2t_topology::{Topology, names};
use serde::Serialize;

/// Most vouchers one call returns.
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, thiserror::Error)]
#[error("results stream: {0}")]
pub struct ResultsError(Box<dyn std::error::Error + Send + Sync>);

fn error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ResultsError {
    ResultsError(e.into())
}

#[derive(Debug, Serialize)]
pub struct RecentVoucher {
    /// Sequence of the result in the stream.
    pub seq: u64,
    #[serde(flatten)]
    pub result: WriteResult,
}

/// The newest `limit` results (at most `MAX_LIMIT`), newest first.
pub async fn recent(topology: &Topology, limit: usize) -> Result<Vec<RecentVoucher>, ResultsError> {
    let limit = limit.min(MAX_LIMIT);
    let mut stream = topology
        .js
        .get_stream(names::RESULTS_STREAM)
        .await
        .map_err(error)?;
    let state = stream.info().await.map_err(error)?.state.clone();
    let mut found = Vec::with_capacity(limit);
    if state.messages == 0 || limit == 0 {
        return Ok(found);
    }
    // Results are never deleted one by one, so gaps are rare; the bound keeps a pathological
    // stream from turning one page refresh into thousands of requests.
    let oldest = state
        .first_sequence
        .max(state.last_sequence.saturating_sub(4 * limit as u64));
    for seq in (oldest..=state.last_sequence).rev() {
        if found.len() == limit {
            break;
        }
        // An absent sequence (expired between `info` and here) is skipped, as the DLQ does.
        let Ok(message) = stream.get_raw_message(seq).await else {
            continue;
        };
        match serde_json::from_slice::<WriteResult>(&message.payload) {
            Ok(result) => found.push(RecentVoucher { seq, result }),
            Err(e) => tracing::warn!(seq, error = %e, "unreadable write result"),
        }
    }
    Ok(found)
}
