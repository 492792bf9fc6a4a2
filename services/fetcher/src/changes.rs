//! The change scan: every `corrections.scan_every_secs`, each task reads the orders JST
//! modified since its last scan (`date_type = 0`, every status, the task's other filters),
//! keeps those whose voucher was written (`j2t_written`) and whose JST version (`ts`) is newer
//! than the one handled last, and publishes each as a change event (`j2t.changes.<task>`,
//! `Nats-Msg-Id` = io_id + ts). The scan cursor moves on only after every change of the
//! range is stored, so a fetcher killed in between detects them again and publishes them
//! under the same ids (stored once; the corrections handle each version once anyway).
//!
//! Pacing: spare budget only, shared with the re-check (`recheck::Gate`): each scan page waits
//! until the task's live sync is caught up, then for a slot of the re-checks' share
//! (`fetcher.recheck_share_percent` of the minute, one KV schedule for re-checks, resyncs and
//! scans together), then like every request for a slot of the app's limits.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use backon::{ExponentialBuilder, Retryable};
use chrono::{NaiveDateTime, Utc};
use j2t_config::{Config, DateType, SyncTask};
use j2t_domain::{JST_TIME_FORMAT, OrderChanged, io_id_of};
use j2t_jst::paging::{PageReader, Range, StatusRead, read_range};
use j2t_jst::{JstClient, OutboundPage, OutboundQuery};
use j2t_stores::WrittenOrders;
use j2t_topology::{Topology, names};
use tokio_util::sync::CancellationToken;

use crate::recheck::Gate;

/// Test hook: when this environment variable names an existing file, the fetcher removes
/// the file and aborts right after it detected changes and before it published them (a
/// deterministic "killed between detecting and publishing"). Unset in production.
pub const EXIT_AFTER_DETECT_ENV: &str = "J2T_TEST_ABORT_AFTER_CHANGE_DETECTED";

/// JST allows at most 7 days per query.
const MAX_RANGE_SECS: i64 = 7 * 86_400 - 1;

/// Runs the change scan of every task until `stop`; `gates`: each task's spare-budget gate.
pub async fn scan_loop(
    cfg: &Config,
    jst: JstClient,
    topology: &Topology,
    gates: BTreeMap<String, Gate>,
    stop: CancellationToken,
) {
    let every = cfg.corrections.scan_every_secs;
    if every == 0 {
        return;
    }
    let scanner = Scanner {
        jst,
        js: topology.js.clone(),
        written: WrittenOrders::new(topology),
        utc_offset: chrono::Duration::minutes(cfg.jst.utc_offset_minutes.into()),
        lag: chrono::Duration::seconds(cfg.fetcher.lag_secs as i64),
        every: chrono::Duration::seconds(every as i64),
        gates,
    };
    let tasks = cfg.fetcher.sync_tasks();
    while !stop.is_cancelled() {
        for task in &tasks {
            match stop.run_until_cancelled(scanner.scan(task)).await {
                None => return,
                Some(Ok(changes)) if changes > 0 => {
                    tracing::info!(task = %task.name, changes, "changes after the write published");
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::warn!(task = %task.name, error = format!("{error:#}"), "change scan failed; next time");
                }
            }
        }
        stop.run_until_cancelled(tokio::time::sleep(Duration::from_secs(every)))
            .await;
    }
}

/// The range a scan reads: from the cursor (or one period back) to `now - lag`, at most 7
/// days. `None` when there is nothing new to read.
pub fn scan_range(
    cursor: Option<NaiveDateTime>,
    now: NaiveDateTime,
    lag: chrono::Duration,
    every: chrono::Duration,
) -> Option<Range> {
    let end = now - lag;
    let start = cursor.unwrap_or(end - every);
    let end = end.min(start + chrono::Duration::seconds(MAX_RANGE_SECS));
    (end > start).then_some(Range { start, end })
}

struct Scanner {
    jst: JstClient,
    js: async_nats::jetstream::Context,
    written: WrittenOrders,
    utc_offset: chrono::Duration,
    lag: chrono::Duration,
    every: chrono::Duration,
    gates: BTreeMap<String, Gate>,
}

impl Scanner {
    /// Scans one task's next range; returns the changes published.
    async fn scan(&self, task: &SyncTask) -> anyhow::Result<usize> {
        let now = Utc::now().naive_utc() + self.utc_offset;
        let cursor = self
            .written
            .scan_cursor(&task.name)
            .await?
            .and_then(|c| NaiveDateTime::parse_from_str(&c, JST_TIME_FORMAT).ok());
        let Some(range) = scan_range(cursor, now, self.lag, self.every) else {
            return Ok(0);
        };
        // Every status, filtered on `modified`: cancelled and edited orders come back.
        let modified = SyncTask {
            statuses: Vec::new(),
            date_type: DateType::Modified,
            ..task.clone()
        };
        let mut reader = ScanReader {
            scanner: self,
            task: &task.name,
            changes: Vec::new(),
        };
        read_range(&modified, range, &mut reader, &mut StatusRead::Apart).await?;
        let changes = reader.changes;
        if !changes.is_empty() {
            abort_if_asked();
        }
        for change in &changes {
            j2t_topology::publish_json(
                &self.js,
                &names::changes_subject(&task.name),
                &names::change_msg_id(change.io_id, change.ts),
                change,
            )
            .await?;
            metrics::counter!("j2t_fetcher_changes_total", "task" => task.name.clone())
                .increment(1);
        }
        // Only now: a crash before this line reads the range again.
        self.written
            .set_scan_cursor(&task.name, &range.end.format(JST_TIME_FORMAT).to_string())
            .await?;
        Ok(changes.len())
    }
}

fn abort_if_asked() {
    if let Some(path) = std::env::var_os(EXIT_AFTER_DETECT_ENV)
        && std::fs::remove_file(&path).is_ok()
    {
        tracing::error!("test hook: aborting between detecting changes and publishing them");
        std::process::abort();
    }
}

struct ScanReader<'a> {
    scanner: &'a Scanner,
    task: &'a str,
    changes: Vec<OrderChanged>,
}

impl PageReader for ScanReader<'_> {
    type Error = anyhow::Error;

    async fn fetch(&mut self, query: &OutboundQuery) -> anyhow::Result<OutboundPage> {
        if let Some(gate) = self.scanner.gates.get(self.task) {
            gate.admit().await?;
        }
        let jst = &self.scanner.jst;
        let page = (|| jst.query_outbound(query))
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_secs(1))
                    .with_max_delay(Duration::from_secs(60))
                    .with_max_times(8),
            )
            .when(|e| e.is_transient())
            .await
            .context("change scan: JST page")?;
        metrics::counter!("j2t_fetcher_change_scan_pages_total", "task" => self.task.to_string())
            .increment(1);
        Ok(page)
    }

    async fn accept(&mut self, page: OutboundPage) -> anyhow::Result<()> {
        let ids: Vec<i64> = page.datas.iter().filter_map(io_id_of).collect();
        let known = self.scanner.written.many(&ids).await?;
        for order in page.datas {
            let Some(io_id) = io_id_of(&order) else {
                continue;
            };
            let ts = order
                .get("ts")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0);
            let newer = known.get(&io_id).is_some_and(|r| ts > r.seen_ts);
            // An order read twice in one scan (it moved between pages) counts once.
            if newer && !self.changes.iter().any(|c| c.io_id == io_id && c.ts >= ts) {
                self.changes.retain(|c| c.io_id != io_id);
                self.changes.push(OrderChanged {
                    task: self.task.to_string(),
                    io_id,
                    ts,
                    order,
                    replay_of: None,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, JST_TIME_FORMAT).expect("time")
    }

    #[test]
    fn the_scan_reads_from_its_cursor_to_the_lag_at_most_seven_days() {
        let now = t("2026-11-25 12:00:00");
        let lag = chrono::Duration::seconds(120);
        let every = chrono::Duration::seconds(600);
        let r = scan_range(None, now, lag, every).expect("range");
        assert_eq!(
            (r.start, r.end),
            (t("2026-11-25 11:48:00"), t("2026-11-25 11:58:00"))
        );
        let r = scan_range(Some(t("2026-11-01 00:00:00")), now, lag, every).expect("range");
        assert_eq!(r.end, t("2026-11-07 23:59:59"));
        assert!(scan_range(Some(t("2026-11-25 11:58:00")), now, lag, every).is_none());
    }
}
