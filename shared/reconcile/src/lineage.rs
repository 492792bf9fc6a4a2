//! Gathers the facts the explanations need, in batches: lineage claims and fetch marks of
//! the io_ids behind the differing rows, the writer's record of their vouchers, the pending
//! dead letters (read once) and the io_ids of T+'s vouchers (write results, read once).

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use j2t_domain::{WriteResult, io_id_of};
use j2t_stores::{DeadLetters, DlqFilter, Lineage};
use j2t_topology::{Topology, names};

use crate::ReconcileError;
use crate::explain::Facts;

/// KV and stream reads in flight at once.
const CONCURRENCY: usize = 32;

fn nats(what: &str) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> ReconcileError + '_ {
    move |e| ReconcileError::Nats(format!("{what}: {e}"))
}

/// `jst_ids`: the orders behind the differing rows; `codes`: the T+ vouchers at them.
pub async fn gather(
    topology: &Topology,
    jst_ids: &[i64],
    codes: &BTreeSet<String>,
    in_tplus: HashSet<String>,
    in_jst: HashSet<i64>,
) -> Result<Facts, ReconcileError> {
    let lineage = Lineage::new(topology);
    let claims: HashMap<i64, String> = lineage
        .claims(jst_ids)
        .await
        .map_err(|e| ReconcileError::Nats(e.to_string()))?
        .into_iter()
        .map(|(id, claim)| (id, claim.external_code))
        .collect();
    let unclaimed: Vec<i64> = jst_ids
        .iter()
        .filter(|id| !claims.contains_key(id))
        .copied()
        .collect();
    let fetched = fetched(topology, &unclaimed).await?;
    let missing: BTreeSet<String> = claims
        .values()
        .filter(|c| !in_tplus.contains(*c))
        .cloned()
        .collect();
    let mut states = HashMap::new();
    for code in &missing {
        if let Some(state) = lineage
            .state(code)
            .await
            .map_err(|e| ReconcileError::Nats(e.to_string()))?
        {
            states.insert(code.clone(), state.state);
        }
    }
    let mut facts = Facts {
        claims,
        fetched,
        in_tplus,
        states,
        in_jst,
        ..Facts::default()
    };
    if !unclaimed.is_empty() || !missing.is_empty() {
        letters(topology, &mut facts).await?;
    }
    let mut voucher_io_ids: HashMap<String, BTreeSet<i64>> = HashMap::new();
    if !codes.is_empty() {
        voucher_io_ids = results_io_ids(topology, codes).await?;
    }
    for (io_id, code) in &facts.claims {
        voucher_io_ids
            .entry(code.clone())
            .or_default()
            .insert(*io_id);
    }
    facts.voucher_io_ids = voucher_io_ids;
    Ok(facts)
}

/// The io_ids among `ids` the fetcher marked published (`j2t_seen`).
async fn fetched(topology: &Topology, ids: &[i64]) -> Result<HashSet<i64>, ReconcileError> {
    let found: Vec<_> = futures::stream::iter(ids.to_vec())
        .map(|io_id| {
            let kv = topology.seen.clone();
            async move { (io_id, kv.get(io_id.to_string()).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut out = HashSet::new();
    for (io_id, got) in found {
        if got.map_err(|e| nats("fetch marks")(e.into()))?.is_some() {
            out.insert(io_id);
        }
    }
    Ok(out)
}

/// Pending dead letters, indexed by the orders and vouchers they hold (one pass).
async fn letters(topology: &Topology, facts: &mut Facts) -> Result<(), ReconcileError> {
    let entries = DeadLetters::new(topology)
        .list(&DlqFilter::default())
        .await
        .map_err(|e| ReconcileError::Nats(e.to_string()))?;
    for entry in entries {
        let payload = &entry.letter.payload;
        let held = (entry.id, entry.letter.reason.as_str().to_string());
        if let Some(io_id) = io_id_of(payload) {
            facts.letters_by_io.entry(io_id).or_insert(held.clone());
        }
        for id in payload["io_ids"].as_array().into_iter().flatten() {
            if let Some(id) = id.as_i64() {
                facts.letters_by_io.entry(id).or_insert(held.clone());
            }
        }
        if let Some(code) = payload["external_code"].as_str() {
            facts
                .letters_by_code
                .entry(code.to_string())
                .or_insert(held.clone());
        }
    }
    Ok(())
}

/// The io_ids of `codes` as recorded by the writer's results (`J2T_RESULTS`).
async fn results_io_ids(
    topology: &Topology,
    codes: &BTreeSet<String>,
) -> Result<HashMap<String, BTreeSet<i64>>, ReconcileError> {
    let mut stream = topology
        .js
        .get_stream(names::RESULTS_STREAM)
        .await
        .map_err(|e| nats("results stream")(e.into()))?;
    let state = stream
        .info()
        .await
        .map_err(|e| nats("results stream")(e.into()))?
        .state
        .clone();
    let mut out: HashMap<String, BTreeSet<i64>> = HashMap::new();
    if state.messages == 0 {
        return Ok(out);
    }
    let stream = &stream;
    let mut results = futures::stream::iter(state.first_sequence..=state.last_sequence)
        .map(|seq| async move { stream.get_raw_message(seq).await.ok() })
        .buffer_unordered(CONCURRENCY);
    while let Some(message) = results.next().await {
        // An absent sequence (aged out meanwhile) is skipped.
        let Some(message) = message else { continue };
        if let Ok(result) = serde_json::from_slice::<WriteResult>(&message.payload)
            && codes.contains(&result.external_code)
        {
            out.entry(result.external_code)
                .or_default()
                .extend(result.io_ids);
        }
    }
    Ok(out)
}

/// The sync task each voucher's orders came from (`None` when its lineage is unknown): from
/// the write results, then the lineage claim of one of its orders.
pub async fn voucher_tasks(
    topology: &Topology,
    codes: &BTreeSet<String>,
) -> Result<HashMap<String, Option<String>>, ReconcileError> {
    let io_ids = results_io_ids(topology, codes).await?;
    let firsts: Vec<i64> = io_ids
        .values()
        .filter_map(|ids| ids.iter().next().copied())
        .collect();
    let claims = Lineage::new(topology)
        .claims(&firsts)
        .await
        .map_err(|e| ReconcileError::Nats(e.to_string()))?;
    Ok(codes
        .iter()
        .map(|code| {
            let task = io_ids
                .get(code)
                .and_then(|ids| ids.iter().next())
                .and_then(|id| claims.get(id))
                .and_then(|claim| task_of_subject(&claim.orders_subject));
            (code.clone(), task)
        })
        .collect())
}

/// `j2t.orders.<task>.<window>` → the task.
fn task_of_subject(subject: &str) -> Option<String> {
    // `orders_subject("", "")` is `j2t.orders..`: the prefix is all but its last dot.
    let empty = names::orders_subject("", "");
    let rest = subject.strip_prefix(&empty[..empty.len() - 1])?;
    rest.split('.')
        .next()
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_of_an_orders_subject() {
        let subject = names::orders_subject("shop1", "20261125000000-20261125235959");
        assert_eq!(task_of_subject(&subject).as_deref(), Some("shop1"));
        assert_eq!(task_of_subject("j2t.vouchers.x"), None);
    }
}
