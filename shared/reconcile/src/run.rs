//! One reconciliation run: the I/O around the pure parts. T+ is read first, then JST, so an
//! order written while the run goes on shows as in flight rather than as "not in JST".

use std::collections::{BTreeSet, HashSet};
use std::time::Instant;

use chrono::NaiveDate;
use j2t_config::Config;
use j2t_mapping::Mapping;
use j2t_topology::Topology;
use j2t_tplus::VoucherIndex;

use crate::explain::{Facts, KeySides, explain};
use crate::{Difference, REPORT_VERSION, Report, compare, jst, lineage, tplus};

/// What to reconcile: inclusive voucher dates, one task or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// A sync task's name (`fetcher.tasks.NAME`, or `default`); `None` = every task.
    pub task: Option<String>,
}

/// Progress of a long run (the CLI draws a bar on stderr; the monitor ignores it).
pub trait Progress: Send + Sync {
    /// A new phase begins; `total` units when known.
    fn phase(&self, name: &str, total: Option<u64>);
    fn advance(&self, n: u64);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _name: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
}

/// The run could not be completed (the books were not compared).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("mapping: {0}")]
    Mapping(String),
    #[error("JST: {0}")]
    Jst(String),
    #[error("T+: {0}")]
    Tplus(String),
    #[error("pipeline state in NATS: {0}")]
    Nats(String),
}

/// Most days one run covers (a month and then some; JST is read at its rate limit).
pub const MAX_DAYS: i64 = 366;

/// Compares JST with T+ over `request`'s dates (at most [`MAX_DAYS`]); see the crate docs.
pub async fn reconcile(
    cfg: &Config,
    topology: &Topology,
    request: &Request,
    progress: &dyn Progress,
) -> Result<Report, ReconcileError> {
    check(request)?;
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let (from, to) = (request.from, request.to);
    let mapping = load_mapping(cfg)?;
    let tasks = jst::tasks(cfg, request.task.as_deref())?;

    let tplus_client = j2t_stores::tplus_client(cfg, topology)
        .map_err(|e| ReconcileError::Tplus(format!("building the client: {e}")))?;
    if let Err(error) = tplus_client.load_stored_tokens().await {
        tracing::warn!(%error, "could not read stored T+ tokens; using the configured ones");
    }
    let index = VoucherIndex::new(tplus_client.clone(), &cfg.tplus);
    let page_size = cfg.tplus.voucher_list_page_size;
    let (mut tplus_side, dtos) = tplus::read(
        &tplus_client,
        &index,
        page_size,
        &mapping,
        (from, to),
        progress,
    )
    .await?;
    let dtos = of_task(cfg, topology, request, dtos).await?;
    for dto in &dtos {
        tplus::add_voucher(&mut tplus_side, dto, from, to);
    }

    let jst_client = j2t_stores::jst_client(cfg, topology)
        .map_err(|e| ReconcileError::Jst(format!("building the client: {e}")))?;
    if let Err(error) = jst_client.load_stored_tokens().await {
        tracing::warn!(%error, "could not read stored JST tokens; using the configured ones");
    }
    let jst_side = jst::read(cfg, &jst_client, &mapping, &tasks, (from, to), progress).await?;

    let rows = compare::rows(&jst_side.by_key, &tplus_side.by_key);
    let differing = compare::differing(&rows);
    let mut jst_ids = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for row in &differing {
        let key = compare::key_of(row);
        let behind = jst_side.contributions.get(&key).into_iter().flatten();
        jst_ids.extend(behind.map(|(id, _)| *id));
        let held = tplus_side.vouchers_at.get(&key).into_iter().flatten();
        codes.extend(held.map(|(code, _)| code.clone()));
    }
    progress.phase("lineage", Some(differing.len() as u64));
    let facts = if differing.is_empty() {
        Facts::default()
    } else {
        let jst_ids: Vec<i64> = jst_ids.into_iter().collect();
        lineage::gather(
            topology,
            &jst_ids,
            &codes,
            tplus_side.in_tplus.clone(),
            jst_side.io_ids.clone(),
        )
        .await?
    };
    let differences = differing
        .into_iter()
        .map(|row| {
            let key = compare::key_of(&row);
            let sides = KeySides {
                jst: jst_side
                    .contributions
                    .get(&key)
                    .map_or(&[][..], Vec::as_slice),
                tplus: tplus_side
                    .vouchers_at
                    .get(&key)
                    .map_or(&[][..], Vec::as_slice),
            };
            progress.advance(1);
            Difference {
                explanations: explain(&sides, &facts),
                row,
            }
        })
        .collect::<Vec<_>>();
    let report = Report {
        version: REPORT_VERSION,
        from,
        to,
        task: request.task.clone(),
        totals: compare::totals(
            &jst_side.by_key,
            &tplus_side.by_key,
            jst_side.orders,
            tplus_side.vouchers,
        ),
        rows,
        differences,
        jst_requests: jst_side.requests,
        tplus_requests: tplus_side.requests,
        started_at,
        elapsed_ms: clock.elapsed().as_millis() as u64,
    };
    tracing::info!(
        from = %from,
        to = %to,
        rows = report.rows.len(),
        differences = report.differences.len(),
        jst_requests = report.jst_requests,
        tplus_requests = report.tplus_requests,
        elapsed_ms = report.elapsed_ms,
        "reconcile finished"
    );
    Ok(report)
}

fn check(request: &Request) -> Result<(), ReconcileError> {
    if request.from > request.to {
        return Err(ReconcileError::BadRequest(format!(
            "from ({}) is after to ({})",
            request.from, request.to
        )));
    }
    let days = (request.to - request.from).num_days() + 1;
    if days > MAX_DAYS {
        return Err(ReconcileError::BadRequest(format!(
            "{days} days from {} to {}; at most {MAX_DAYS} per run",
            request.from, request.to
        )));
    }
    Ok(())
}

/// The configured mapping: `transformer.mapping_file`, or the built-in one (as the
/// transformer loads it).
fn load_mapping(cfg: &Config) -> Result<Mapping, ReconcileError> {
    match &cfg.transformer.mapping_file {
        None => Ok(Mapping::builtin()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ReconcileError::Mapping(format!(
                    "transformer.mapping_file: reading {}: {e}",
                    path.display()
                ))
            })?;
            Mapping::from_toml(&text).map_err(|e| {
                ReconcileError::Mapping(format!("transformer.mapping_file {}: {e}", path.display()))
            })
        }
    }
}

/// With one task named while several are configured, only the vouchers whose orders came
/// from that task count (T+ does not know tasks; lineage does). Vouchers of unknown lineage
/// are kept.
async fn of_task(
    cfg: &Config,
    topology: &Topology,
    request: &Request,
    dtos: Vec<j2t_tplus::VoucherDto>,
) -> Result<Vec<j2t_tplus::VoucherDto>, ReconcileError> {
    let Some(task) = &request.task else {
        return Ok(dtos);
    };
    if cfg.fetcher.sync_tasks().len() < 2 || dtos.is_empty() {
        return Ok(dtos);
    }
    let codes: BTreeSet<String> = dtos.iter().map(|d| d.external_code.clone()).collect();
    let tasks = lineage::voucher_tasks(topology, &codes).await?;
    let others: HashSet<&String> = tasks
        .iter()
        .filter(|(_, t)| t.as_ref().is_some_and(|t| t != task))
        .map(|(code, _)| code)
        .collect();
    Ok(dtos
        .into_iter()
        .filter(|d| !others.contains(&d.external_code))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The monitor spawns runs on its runtime: the future must be `Send`.
    #[allow(dead_code)]
    fn a_run_is_send(cfg: &Config, topology: &Topology, request: &Request) {
        fn send<T: Send>(_: T) {}
        send(reconcile(cfg, topology, request, &NoProgress));
    }

    #[test]
    fn requests_are_checked() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).expect("date");
        let req = |from, to| Request {
            from,
            to,
            task: None,
        };
        assert!(check(&req(d(11, 1), d(11, 30))).is_ok());
        assert!(check(&req(d(11, 1), d(11, 1))).is_ok());
        let err = check(&req(d(11, 2), d(11, 1))).expect_err("backwards");
        assert!(err.to_string().contains("after"), "{err}");
        assert!(
            check(&Request {
                from: NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
                to: d(11, 1),
                task: None
            })
            .is_err()
        );
    }
}
