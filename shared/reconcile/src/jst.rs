//! The JST side: every order of the range re-queried with each task's filters, through the
//! fetcher's client (KV tokens, the app's KV rate schedule) and its drift-proof paging, each
//! order run through the mapping as it arrives (only its lines are kept, not the order).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{NaiveDate, NaiveDateTime};
use j2t_config::{Config, DateType, SyncTask};
use j2t_jst::paging::{PageReader, PagingError, Range, StatusRead, read_range};
use j2t_jst::{JstClient, OutboundPage, OutboundQuery};
use j2t_mapping::Mapping;

use crate::lines::{Amounts, Key, expected_of_order};
use crate::{Progress, ReconcileError};

/// Tries of one page before the run gives up (transient failures only).
const PAGE_TRIES: usize = 8;

/// What JST says the range holds, keyed like T+.
#[derive(Debug, Default)]
pub struct JstSide {
    pub by_key: BTreeMap<Key, Amounts>,
    /// The orders behind each key, with their share.
    pub contributions: HashMap<Key, Vec<(i64, Amounts)>>,
    /// Every io_id JST returned (mapped or not).
    pub io_ids: HashSet<i64>,
    /// Orders with at least one line in the range.
    pub orders: u64,
    pub requests: u64,
}

/// The tasks a request covers.
pub fn tasks(cfg: &Config, task: Option<&str>) -> Result<Vec<SyncTask>, ReconcileError> {
    let all = cfg.fetcher.sync_tasks();
    match task {
        None => Ok(all),
        Some(name) => {
            let names: Vec<String> = all.iter().map(|t| t.name.clone()).collect();
            let found: Vec<SyncTask> = all.into_iter().filter(|t| t.name == name).collect();
            if found.is_empty() {
                return Err(ReconcileError::BadRequest(format!(
                    "no sync task named `{name}` (configured: {})",
                    names.join(", ")
                )));
            }
            Ok(found)
        }
    }
}

/// The ranges a date span is read in: at most `window_secs` (and 7 days) each, local time.
pub fn ranges(from: NaiveDate, to: NaiveDate, window_secs: u64) -> Vec<Range> {
    let step = chrono::Duration::seconds(window_secs.clamp(60, 7 * 86_400) as i64);
    let start = from.and_hms_opt(0, 0, 0).unwrap_or(NaiveDateTime::MIN);
    let end = to.and_hms_opt(23, 59, 59).unwrap_or(NaiveDateTime::MAX);
    let mut out = Vec::new();
    let mut at = start;
    while at <= end {
        let last = (at + step - chrono::Duration::seconds(1)).min(end);
        out.push(Range {
            start: at,
            end: last,
        });
        at = last + chrono::Duration::seconds(1);
    }
    out
}

/// Reads the range of every task. Tasks are queried on the ship date (`date_type` 2)
/// whatever they sync on: the question is what shipped on those days.
pub async fn read(
    cfg: &Config,
    jst: &JstClient,
    mapping: &Mapping,
    tasks: &[SyncTask],
    (from, to): (NaiveDate, NaiveDate),
    progress: &dyn Progress,
) -> Result<JstSide, ReconcileError> {
    let ranges = ranges(from, to, cfg.fetcher.window_secs);
    progress.phase("JST", Some((ranges.len() * tasks.len()) as u64));
    let requests = AtomicU64::new(0);
    let mut orders: HashMap<i64, Vec<(Key, Amounts)>> = HashMap::new();
    for task in tasks {
        let task = SyncTask {
            date_type: DateType::IoDate,
            ..task.clone()
        };
        let mut how = StatusRead::default();
        for range in &ranges {
            let before = requests.load(Ordering::Relaxed);
            let mut reader = Reader {
                jst,
                mapping,
                orders: &mut orders,
                requests: &requests,
            };
            read_range(&task, *range, &mut reader, &mut how).await?;
            tracing::info!(
                task = %task.name,
                from = %range.start,
                to = %range.end,
                requests = requests.load(Ordering::Relaxed) - before,
                orders_so_far = orders.len(),
                "reconcile: JST range read"
            );
            progress.advance(1);
        }
    }
    let mut side = JstSide {
        requests: requests.load(Ordering::Relaxed),
        io_ids: orders.keys().copied().collect(),
        ..JstSide::default()
    };
    let mut ids: Vec<i64> = orders.keys().copied().collect();
    ids.sort_unstable();
    for io_id in ids {
        let lines = &orders[&io_id];
        let mut counted = false;
        for (key, amounts) in lines.iter().filter(|(k, _)| k.0 >= from && k.0 <= to) {
            side.by_key.entry(key.clone()).or_default().add(*amounts);
            side.contributions
                .entry(key.clone())
                .or_default()
                .push((io_id, *amounts));
            counted = true;
        }
        side.orders += u64::from(counted);
    }
    Ok(side)
}

struct Reader<'a> {
    jst: &'a JstClient,
    mapping: &'a Mapping,
    /// io_id → its expected lines (the last answer wins when an order comes twice).
    orders: &'a mut HashMap<i64, Vec<(Key, Amounts)>>,
    requests: &'a AtomicU64,
}

impl From<PagingError> for ReconcileError {
    fn from(e: PagingError) -> Self {
        ReconcileError::Jst(e.to_string())
    }
}

impl PageReader for Reader<'_> {
    type Error = ReconcileError;

    async fn fetch(&mut self, query: &OutboundQuery) -> Result<OutboundPage, ReconcileError> {
        let (jst, requests) = (self.jst, self.requests);
        (|| async {
            requests.fetch_add(1, Ordering::Relaxed);
            jst.query_outbound(query).await
        })
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_secs(1))
                .with_max_delay(Duration::from_secs(30))
                .with_jitter()
                .with_max_times(PAGE_TRIES - 1),
        )
        .when(j2t_jst::JstError::is_transient)
        .notify(|error, delay| {
            tracing::warn!(%error, ?delay, "reconcile: JST page failed; retrying the same page");
        })
        .await
        .map_err(|e| ReconcileError::Jst(format!("reading orders: {e}")))
    }

    async fn accept(&mut self, page: OutboundPage) -> Result<(), ReconcileError> {
        if !page.unreadable.is_empty() {
            tracing::warn!(
                orders = page.unreadable.len(),
                "reconcile: JST orders that are not valid JSON are left out"
            );
        }
        for order in page.datas {
            if let Some(io_id) = j2t_domain::io_id_of(&order) {
                self.orders
                    .insert(io_id, expected_of_order(self.mapping, order));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_days_in_windows() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).expect("date");
        let daily = ranges(d(1), d(3), 86_400);
        assert_eq!(daily.len(), 3);
        assert_eq!(daily[0].start.to_string(), "2026-11-01 00:00:00");
        assert_eq!(daily[2].end.to_string(), "2026-11-03 23:59:59");
        for pair in daily.windows(2) {
            assert_eq!(pair[1].start, pair[0].end + chrono::Duration::seconds(1));
        }
        // Longer windows are capped at the range's end and at 7 days.
        assert_eq!(ranges(d(1), d(3), 7 * 86_400).len(), 1);
        assert_eq!(ranges(d(1), d(30), 30 * 86_400).len(), 5);
        assert_eq!(ranges(d(1), d(1), 3_600).len(), 24);
    }
}
