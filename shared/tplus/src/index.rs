//! ExternalCode → voucher, over `FindVoucherList`, whose filters are not public. The index
//! keeps every row in list order and rereads only the pages that can hold new rows; a
//! deletion in T+ (rows shifted under the ones remembered) and the periodic
//! `tplus.index_rescan_secs` trigger a full rescan. Every call it makes is counted in
//! `j2t_tplus_lookup_calls_total{kind}`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use j2t_config::{TplusConfig, VoucherListOrder};
use serde_json::json;

use crate::{ReadError, TplusClient, VoucherRow};

/// ExternalCode → VoucherRow. Cheap to clone (Arc inside); concurrent lookups share one
/// refresh.
#[derive(Clone)]
pub struct VoucherIndex {
    inner: Arc<Inner>,
}

struct Inner {
    client: TplusClient,
    page_size: u32,
    order: VoucherListOrder,
    rescan_every: Duration,
    filter_key: String,
    /// Cleared for good once T+ is seen ignoring the filter key.
    filter_usable: AtomicBool,
    /// Held while refreshing; holds when the last full rescan finished.
    refreshing: tokio::sync::Mutex<Option<Instant>>,
    /// Bumped by every finished refresh: a lookup that waited for someone else's refresh
    /// does not start another.
    generation: AtomicU64,
    known: RwLock<Known>,
}

/// The rows in the order T+ lists them, and where each ExternalCode is among them.
#[derive(Default)]
struct Known {
    rows: Vec<VoucherRow>,
    by_code: HashMap<String, usize>,
}

impl Known {
    fn new(rows: Vec<VoucherRow>) -> Self {
        let by_code = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.external_code.is_empty())
            .map(|(i, r)| (r.external_code.clone(), i))
            .collect();
        Self { rows, by_code }
    }
}

/// What a refresh reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Every page from 0.
    Full,
    /// From this page on, checking the rows already known on it.
    FromPage(u32),
}

/// The refresh to do, from what is known and when every page was last read.
pub(crate) fn plan(
    known: usize,
    page_size: u32,
    order: VoucherListOrder,
    since_full: Option<Duration>,
    rescan_every: Duration,
) -> Plan {
    match since_full {
        None => return Plan::Full,
        Some(age) if age >= rescan_every => return Plan::Full,
        Some(_) => {}
    }
    match order {
        // New rows land after the last known one, on its page or later.
        VoucherListOrder::OldestFirst if known == 0 => Plan::FromPage(0),
        VoucherListOrder::OldestFirst => {
            Plan::FromPage(((known - 1) / page_size.max(1) as usize) as u32)
        }
        // New rows push everything down from page 0.
        VoucherListOrder::NewestFirst => Plan::FromPage(0),
    }
}

/// What one more page of an incremental refresh says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Rows moved under the known ones (a deletion in T+): rescan everything.
    Shifted,
    /// Read the next page.
    More,
    /// Done: the rows read make the list `rows` (in list order).
    Done(Vec<VoucherRow>),
}

fn same(a: &VoucherRow, b: &VoucherRow) -> bool {
    // `ts` changes when T+ edits or audits a voucher; the row stays the same one.
    a.id == b.id && a.external_code == b.external_code
}

/// Oldest first: `read` holds the pages read so far, from page `first` on. The known rows on
/// those pages must be where they were; rows past them are new.
pub(crate) fn step_oldest_first(
    known: &[VoucherRow],
    first: u32,
    page_size: u32,
    read: &[VoucherRow],
    last_page_full: bool,
) -> Step {
    let start = first as usize * page_size as usize;
    let known_here = known.len().saturating_sub(start);
    let overlap = known_here.min(read.len());
    if !known[start..start + overlap]
        .iter()
        .zip(read)
        .all(|(k, r)| same(k, r))
    {
        return Step::Shifted;
    }
    if last_page_full {
        return Step::More;
    }
    if read.len() < known_here {
        // Fewer rows than remembered: some were deleted.
        return Step::Shifted;
    }
    let mut rows = known.to_vec();
    rows.extend_from_slice(&read[known_here..]);
    Step::Done(rows)
}

/// Newest first: `read` holds pages 0.. so far. The newest known row must turn up, with the
/// known rows after it in order; the rows before it are new.
pub(crate) fn step_newest_first(
    known: &[VoucherRow],
    read: &[VoucherRow],
    last_page_full: bool,
) -> Step {
    let Some(newest) = known.first() else {
        return if last_page_full {
            Step::More
        } else {
            Step::Done(read.to_vec())
        };
    };
    match read.iter().position(|r| same(r, newest)) {
        Some(at) => {
            let after = &read[at..];
            if !after.iter().zip(known).all(|(r, k)| same(r, k))
                || (!last_page_full && after.len() < known.len())
            {
                return Step::Shifted;
            }
            if read[..at].iter().any(|r| known.iter().any(|k| same(k, r))) {
                return Step::Shifted;
            }
            let mut rows = read[..at].to_vec();
            rows.extend_from_slice(known);
            Step::Done(rows)
        }
        // A known row before the newest one, or the end without it: it was deleted.
        None if read.iter().any(|r| known.iter().any(|k| same(k, r))) => Step::Shifted,
        None if last_page_full => Step::More,
        None => Step::Shifted,
    }
}

/// Bounded values of `kind` in `j2t_tplus_lookup_calls_total`.
#[derive(Clone, Copy)]
enum CallKind {
    /// A page read by an incremental refresh.
    Incremental,
    /// A page read by a full rescan.
    Rescan,
    /// A lookup through the configured ExternalCode filter.
    Filter,
}

impl CallKind {
    fn as_str(self) -> &'static str {
        match self {
            CallKind::Incremental => "incremental",
            CallKind::Rescan => "rescan",
            CallKind::Filter => "filter",
        }
    }
}

fn count(kind: CallKind) {
    metrics::counter!("j2t_tplus_lookup_calls_total", "kind" => kind.as_str()).increment(1);
}

impl VoucherIndex {
    pub fn new(client: TplusClient, cfg: &TplusConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                page_size: cfg.voucher_list_page_size.max(1),
                order: cfg.voucher_list_order,
                rescan_every: Duration::from_secs(cfg.index_rescan_secs),
                filter_key: cfg.external_code_filter_key.clone(),
                filter_usable: AtomicBool::new(!cfg.external_code_filter_key.is_empty()),
                refreshing: tokio::sync::Mutex::new(None),
                generation: AtomicU64::new(0),
                known: RwLock::new(Known::default()),
            }),
        }
    }

    /// Reads what is new since the last refresh (or everything, when a rescan is due).
    pub async fn refresh(&self) -> Result<(), ReadError> {
        let seen = self.inner.generation.load(Ordering::Acquire);
        self.refresh_unless_done_since(seen).await
    }

    /// From the index; on a miss, the configured filter key (when T+ honours it) or a
    /// refresh, and look again.
    pub async fn lookup(&self, external_code: &str) -> Result<Option<VoucherRow>, ReadError> {
        let seen = self.inner.generation.load(Ordering::Acquire);
        if let Some(row) = self.get(external_code) {
            return Ok(Some(row));
        }
        if self.inner.filter_usable.load(Ordering::Relaxed)
            && let Some(found) = self.lookup_by_filter(external_code).await?
        {
            return Ok(found);
        }
        self.refresh_unless_done_since(seen).await?;
        Ok(self.get(external_code))
    }

    /// Every row known after the last refresh (for reconcile), in T+'s list order.
    pub fn rows(&self) -> Vec<VoucherRow> {
        self.read_known().rows.clone()
    }

    fn get(&self, external_code: &str) -> Option<VoucherRow> {
        let known = self.read_known();
        known
            .by_code
            .get(external_code)
            .map(|&i| known.rows[i].clone())
    }

    fn read_known(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        // A panic while holding the lock left whole data (writes are one assignment).
        self.inner
            .known
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Some(answer)` when the filter answered; `None` when T+ turned out to ignore the key
    /// (logged once; the index is used from then on).
    async fn lookup_by_filter(
        &self,
        external_code: &str,
    ) -> Result<Option<Option<VoucherRow>>, ReadError> {
        count(CallKind::Filter);
        let rows = self
            .inner
            .client
            .find_voucher_list_with(
                0,
                self.inner.page_size,
                json!({ self.inner.filter_key.as_str(): external_code }),
            )
            .await?;
        if let Some(row) = rows.iter().find(|r| r.external_code == external_code) {
            return Ok(Some(Some(row.clone())));
        }
        if rows.is_empty() {
            return Ok(Some(None));
        }
        if self.inner.filter_usable.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                key = %self.inner.filter_key,
                asked = external_code,
                got = %rows[0].external_code,
                "T+ ignores the configured ExternalCode filter (tplus.external_code_filter_key); \
                 looking vouchers up in the voucher index instead"
            );
        }
        Ok(None)
    }

    async fn refresh_unless_done_since(&self, seen: u64) -> Result<(), ReadError> {
        let mut last_full = self.inner.refreshing.lock().await;
        if self.inner.generation.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        let known = self.rows();
        let plan = plan(
            known.len(),
            self.inner.page_size,
            self.inner.order,
            last_full.map(|at| at.elapsed()),
            self.inner.rescan_every,
        );
        let rows = match plan {
            Plan::Full => None,
            Plan::FromPage(first) => self.incremental(&known, first).await?,
        };
        let rows = match rows {
            Some(rows) => rows,
            None => {
                let rows = self.full_scan().await?;
                *last_full = Some(Instant::now());
                rows
            }
        };
        metrics::gauge!("j2t_tplus_index_rows").set(rows.len() as f64);
        *self
            .inner
            .known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Known::new(rows);
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// The new list, or `None` when rows shifted and a full rescan is needed.
    async fn incremental(
        &self,
        known: &[VoucherRow],
        first: u32,
    ) -> Result<Option<Vec<VoucherRow>>, ReadError> {
        let size = self.inner.page_size;
        let mut read = Vec::new();
        let mut previous = Vec::new();
        for page in first.. {
            count(CallKind::Incremental);
            let rows = self.read_page(page, &previous).await?;
            let full = rows.len() >= size as usize;
            read.extend(rows.iter().cloned());
            previous = rows;
            let step = match self.inner.order {
                VoucherListOrder::OldestFirst => step_oldest_first(known, first, size, &read, full),
                VoucherListOrder::NewestFirst => step_newest_first(known, &read, full),
            };
            match step {
                Step::More => continue,
                Step::Done(rows) => return Ok(Some(rows)),
                Step::Shifted => {
                    tracing::info!(
                        page,
                        "T+ voucher list shifted (a voucher was deleted); rescanning it"
                    );
                    return Ok(None);
                }
            }
        }
        unreachable!("the page loop only ends by returning")
    }

    async fn full_scan(&self) -> Result<Vec<VoucherRow>, ReadError> {
        let size = self.inner.page_size;
        let mut rows = Vec::new();
        let mut previous = Vec::new();
        for page in 0.. {
            count(CallKind::Rescan);
            let got = self.read_page(page, &previous).await?;
            let full = got.len() >= size as usize;
            rows.extend(got.iter().cloned());
            if !full {
                break;
            }
            previous = got;
        }
        Ok(rows)
    }

    /// One page; the same full page twice in a row means T+ ignores `pageIndex`, and paging
    /// on would never end.
    async fn read_page(
        &self,
        page: u32,
        previous: &[VoucherRow],
    ) -> Result<Vec<VoucherRow>, ReadError> {
        let rows = self
            .inner
            .client
            .find_voucher_list(page, self.inner.page_size)
            .await?;
        if !rows.is_empty() && rows == previous {
            return Err(ReadError::Unreadable(format!(
                "FindVoucherList answered page {page} with the rows of page {}: pageIndex ignored",
                page.saturating_sub(1)
            )));
        }
        Ok(rows)
    }
}

impl std::fmt::Debug for VoucherIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoucherIndex")
            .field("rows", &self.read_known().rows.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: u32) -> VoucherRow {
        VoucherRow {
            id: id.to_string(),
            code: format!("QT-{id}"),
            external_code: format!("J2T-{id}"),
            ts: None,
        }
    }

    fn rows(ids: &[u32]) -> Vec<VoucherRow> {
        ids.iter().map(|&i| r(i)).collect()
    }

    #[test]
    fn plan_reads_only_pages_that_can_hold_new_rows() {
        use VoucherListOrder::*;
        let hour = Duration::from_secs(3600);
        let recent = Some(Duration::from_secs(5));
        let cases = [
            // (known, page size, order, since full rescan, plan)
            (0, 10, OldestFirst, None, Plan::Full),
            (25, 10, OldestFirst, Some(hour), Plan::Full),
            (25, 10, OldestFirst, Some(hour * 2), Plan::Full),
            (0, 10, OldestFirst, recent, Plan::FromPage(0)),
            (1, 10, OldestFirst, recent, Plan::FromPage(0)),
            (10, 10, OldestFirst, recent, Plan::FromPage(0)),
            (11, 10, OldestFirst, recent, Plan::FromPage(1)),
            (25, 10, OldestFirst, recent, Plan::FromPage(2)),
            (30, 10, OldestFirst, recent, Plan::FromPage(2)),
            (25, 10, NewestFirst, recent, Plan::FromPage(0)),
            (25, 10, NewestFirst, None, Plan::Full),
        ];
        for (known, size, order, since, expected) in cases {
            assert_eq!(
                plan(known, size, order, since, hour),
                expected,
                "{known} known, page {size}, {order}, {since:?}"
            );
        }
    }

    #[test]
    fn oldest_first_steps() {
        let known = rows(&[1, 2, 3, 4, 5]);
        // (first page, page size, rows read from it, last page full, step)
        let cases = [
            // nothing new: page 2 of size 2 holds row 5 only
            (2, 2, rows(&[5]), false, Step::Done(rows(&[1, 2, 3, 4, 5]))),
            // new rows after 5
            (2, 2, rows(&[5, 6]), true, Step::More),
            (
                2,
                2,
                rows(&[5, 6, 7]),
                false,
                Step::Done(rows(&[1, 2, 3, 4, 5, 6, 7])),
            ),
            // row 3 deleted: 5 moved to page 1, page 2 holds what was 6
            (2, 2, rows(&[6]), false, Step::Shifted),
            // the last known row deleted and nothing new
            (2, 2, rows(&[]), false, Step::Shifted),
            // from page 0 with a page size larger than the list
            (
                0,
                10,
                rows(&[1, 2, 3, 4, 5, 6]),
                false,
                Step::Done(rows(&[1, 2, 3, 4, 5, 6])),
            ),
            (0, 10, rows(&[1, 2, 4, 5, 6]), false, Step::Shifted),
        ];
        for (first, size, read, full, expected) in cases {
            assert_eq!(
                step_oldest_first(&known, first, size, &read, full),
                expected,
                "from page {first} of {size}: {read:?}"
            );
        }
        assert_eq!(
            step_oldest_first(&[], 0, 2, &rows(&[1]), false),
            Step::Done(rows(&[1]))
        );
    }

    #[test]
    fn ts_changes_do_not_count_as_shifts() {
        let known = rows(&[1, 2]);
        let mut audited = rows(&[1, 2]);
        audited[1].ts = Some("99".into());
        assert_eq!(
            step_oldest_first(&known, 0, 10, &audited, false),
            Step::Done(known.clone())
        );
    }

    #[test]
    fn newest_first_steps() {
        // list order: newest first
        let known = rows(&[5, 4, 3, 2, 1]);
        let cases = [
            // nothing new: the newest known row is still first
            (rows(&[5, 4, 3]), true, Step::Done(rows(&[5, 4, 3, 2, 1]))),
            (
                rows(&[5, 4, 3, 2, 1]),
                false,
                Step::Done(rows(&[5, 4, 3, 2, 1])),
            ),
            (
                rows(&[7, 6, 5]),
                true,
                Step::Done(rows(&[7, 6, 5, 4, 3, 2, 1])),
            ),
            (rows(&[7, 6]), true, Step::More),
            // the newest known row is gone
            (rows(&[7, 6, 4]), true, Step::Shifted),
            (rows(&[7, 6]), false, Step::Shifted),
            // one below it is gone
            (rows(&[6, 5, 3]), true, Step::Shifted),
            (rows(&[5, 4, 3, 1]), false, Step::Shifted),
        ];
        for (read, full, expected) in cases {
            assert_eq!(step_newest_first(&known, &read, full), expected, "{read:?}");
        }
        // Page 0 full of known rows then more: the known tail is checked as far as read.
        assert_eq!(
            step_newest_first(&known, &rows(&[6, 5, 4]), true),
            Step::Done(rows(&[6, 5, 4, 3, 2, 1]))
        );
        assert_eq!(
            step_newest_first(&[], &rows(&[2, 1]), false),
            Step::Done(rows(&[2, 1]))
        );
    }
}
