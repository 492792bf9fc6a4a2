//! Where one JST order is in the pipeline: fetched by which window, merged into which
//! voucher, what became of that voucher, and any dead letters that hold either. Answers
//! `jst2tplus whereis` and the console's lookup alike.

use j2t_domain::{Attempt, ChangeRecord, io_id_of};
use serde::Serialize;

use crate::{AttemptLog, Claim, DeadLetters, DlqFilter, Lineage, VoucherState, WrittenOrders};
use j2t_topology::Topology;

#[derive(Debug, thiserror::Error)]
#[error("whereis: {0}")]
pub struct WhereisError(Box<dyn std::error::Error + Send + Sync>);

fn error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> WhereisError {
    WhereisError(e.into())
}

#[derive(Debug, Clone, Serialize)]
pub struct Whereabouts {
    pub io_id: i64,
    /// `task/window` of the fetch that published it.
    pub fetched_by: Option<String>,
    pub voucher: Option<Claim>,
    pub voucher_state: Option<VoucherState>,
    /// Failed writes of its voucher so far (while it is not written yet).
    pub failed_attempts: Vec<Attempt>,
    /// Pending dead letters holding the order or its voucher: (id, "stage reason: error").
    pub dead_letters: Vec<(u64, String)>,
    /// Changes JST made after the write and what was done, oldest first (while watched,
    /// `corrections.watch_days`), each correction voucher with its state in T+.
    #[serde(default)]
    pub changes: Vec<ChangeSeen>,
}

/// One change after the write, for `whereis`.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeSeen {
    #[serde(flatten)]
    pub change: ChangeRecord,
    /// (ExternalCode, its state: `created`, `confirmed`, … or `not written yet`).
    pub correction_states: Vec<(String, String)>,
}

impl Whereabouts {
    /// Nothing in the pipeline has seen this io_id.
    pub fn is_unknown(&self) -> bool {
        self.fetched_by.is_none() && self.voucher.is_none() && self.dead_letters.is_empty()
    }
}

pub async fn whereabouts(topology: &Topology, io_id: i64) -> Result<Whereabouts, WhereisError> {
    let fetched_by = topology
        .seen
        .get(io_id.to_string())
        .await
        .map_err(error)?
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let lineage = Lineage::new(topology);
    let voucher = lineage.claim_of(io_id).await.map_err(error)?;
    let (voucher_state, failed_attempts) = match &voucher {
        Some(claim) => (
            lineage.state(&claim.external_code).await.map_err(error)?,
            AttemptLog::new(topology.attempts.clone())
                .history(&claim.external_code)
                .await
                .map_err(error)?,
        ),
        None => (None, Vec::new()),
    };
    let code = voucher.as_ref().map(|c| c.external_code.as_str());
    let dead_letters = DeadLetters::new(topology)
        .list(&DlqFilter::default())
        .await
        .map_err(error)?
        .into_iter()
        .filter(|e| {
            let payload = &e.letter.payload;
            io_id_of(payload) == Some(io_id)
                || payload["io_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|id| id.as_i64() == Some(io_id)))
                || (code.is_some() && payload["external_code"].as_str() == code)
        })
        .map(|e| {
            let what = format!(
                "{} {}: {}",
                e.letter.stage.as_str(),
                e.letter.reason,
                e.letter.error
            );
            (e.id, what)
        })
        .collect();
    let mut changes = Vec::new();
    if let Some((record, _)) = WrittenOrders::new(topology)
        .get(io_id)
        .await
        .map_err(error)?
    {
        for change in record.history {
            let mut correction_states = Vec::new();
            for code in &change.corrections {
                let state = lineage
                    .state(code)
                    .await
                    .map_err(error)?
                    .map_or("not written yet".to_string(), |s| s.state);
                correction_states.push((code.clone(), state));
            }
            changes.push(ChangeSeen {
                change,
                correction_states,
            });
        }
    }
    Ok(Whereabouts {
        changes,
        io_id,
        fetched_by,
        voucher,
        voucher_state,
        failed_attempts,
        dead_letters,
    })
}
