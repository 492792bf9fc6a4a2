//! How a window is read so that no order is missed while JST's data changes underneath.
//!
//! Paging by `page_index` over a result that changes between requests skips rows: when an
//! order on an earlier page is modified (it re-sorts to the end) or leaves the filter, every
//! later row moves up one place and one of them slips past the page boundary. The JST doc
//! warns about exactly this. Three strategies avoid it:
//!
//! - **keyset** (default): `start_ts` paging whose first request also asks for the total
//!   (`is_get_total = true`), so JST counts the range at the start. Every page is full (49 new
//!   rows of 50: `>=` repeats the last), no probe, no split. At the end the distinct io_ids
//!   read must be at least the count ([`keyset_check`]): every order in the range at the start
//!   is either read (unchanged: at its ts; changed and still in range: at its new, larger ts)
//!   or has left the range — so fewer rows than counted means an order left, or JST's cursor
//!   did not behave as documented; either way the range is read again with `snapshot`, which
//!   relies on nothing but one response being one query. Its cost is a re-read when orders
//!   leave a range mid-read (rare with `date_type = 2`).
//! - **snapshot** (default): a single response is one consistent query. So a window is read
//!   with one request if it fits in a page; if not, it is split into parts sized from the
//!   reported `data_count` (aiming at three quarters of a page each) and each part is read the
//!   same way, recursively. Every order present in the window for the whole sync lies in
//!   exactly one part and is returned by that part's single response. Only a single second
//!   holding more than a page of orders cannot be split; it is paged until two consecutive
//!   passes return the same (io_id, ts) set.
//! - **start_ts**: keyset paging on the rowversion `ts`, as JST recommends: each request asks
//!   for `ts >= max ts seen`, in ts order. A modified or inserted row gets a higher ts than
//!   everything already read, so it comes later instead of shifting rows past a boundary.
//!   `>=` repeats the last row; duplicates are dropped by io_id.
//!
//! Several statuses (`Confirmed, Archive`) are read together while ranges are quiet: one
//! unfiltered request that holds the whole range is one consistent answer (as `snapshot`),
//! filtered here; a busier range is read status by status ([`StatusRead`]).
//!
//! Orders modified during the sync that leave the window (date_type 0 moves them to `now`)
//! are picked up by a later window; the synced-io_id store keeps them from counting twice.
//!
//! The steps are pure; [`read_range`] drives them over a [`PageReader`] (the fetcher
//! publishes what it reads, `jst2tplus reconcile` sums it), so both read JST alike.

use std::collections::{BTreeSet, HashSet};
use std::future::Future;

use chrono::{Duration, NaiveDateTime};
use j2t_config::{Paging, SyncTask};
use serde_json::Value;

use crate::{OutboundPage, OutboundQuery};

/// An inclusive range of whole seconds, as JST's `modified_begin`/`modified_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// Passes over an unsplittable second before giving up (the window is then retried).
pub const MAX_STABLE_PASSES: u32 = 5;
/// Upper bound on parts per split, so one bad estimate cannot burn the minute's quota.
const MAX_PARTS: i64 = 32;

impl Range {
    pub fn seconds(&self) -> i64 {
        (self.end - self.start).num_seconds() + 1
    }

    /// Splits into `parts` contiguous, non-overlapping, non-empty ranges covering `self`.
    pub fn split(&self, parts: i64) -> Vec<Range> {
        let total = self.seconds();
        let parts = parts.clamp(1, total.max(1));
        (0..parts)
            .map(|i| Range {
                start: self.start + Duration::seconds(total * i / parts),
                end: self.start + Duration::seconds(total * (i + 1) / parts - 1),
            })
            .collect()
    }
}

/// How many parts a range reporting `count` orders is split into: each should fit in
/// three quarters of a page, so uneven spread rarely forces another split.
pub fn parts_for(count: u64, page_size: u32) -> i64 {
    let target = (u64::from(page_size) * 3 / 4).max(1);
    (count.div_ceil(target) as i64).clamp(2, MAX_PARTS)
}

/// What one response said about its range (snapshot strategy: always page 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstPage {
    pub has_next: bool,
    /// Rows in this response.
    pub returned: u64,
    /// Rows JST counts in the whole range.
    pub data_count: u64,
}

/// The snapshot strategy's next step for a range, given its first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStep {
    /// The page holds the whole range: take its rows.
    Take,
    /// A single second holds more than a page: page through it until two passes agree.
    PageUntilStable,
    /// Read these parts instead, in this order (the page is discarded).
    Split(Vec<Range>),
}

pub fn snapshot_step(range: Range, page: FirstPage, page_size: u32) -> SnapshotStep {
    if !page.has_next && page.returned >= page.data_count {
        SnapshotStep::Take
    } else if range.seconds() == 1 {
        SnapshotStep::PageUntilStable
    } else {
        SnapshotStep::Split(range.split(parts_for(page.data_count, page_size)))
    }
}

/// The start_ts strategy's next step after a page of `returned` rows whose largest `ts` is
/// `max_ts`, asked from `start_ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsStep {
    /// A short page: the window is read.
    Done,
    /// Ask again from this ts (`>=`: the last row repeats and is dropped by io_id).
    From(i64),
    /// A full page without a larger ts: paging cannot advance.
    Stuck,
}

pub fn ts_step(start_ts: i64, returned: usize, page_size: u32, max_ts: Option<i64>) -> TsStep {
    if returned < page_size as usize {
        return TsStep::Done;
    }
    match max_ts {
        Some(ts) if ts > start_ts => TsStep::From(ts),
        _ => TsStep::Stuck,
    }
}

/// The keyset strategy's verdict on a range once its cursor reached the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysetCheck {
    /// At least as many distinct orders were read as JST counted at the start.
    Complete,
    /// Fewer (an order left the range, or the cursor skipped one), or the count is not
    /// usable: read the range again with `snapshot`.
    Reread,
}

/// `counted`: JST's `data_count` for the range on the first page; `first_returned`: rows on
/// that page; `distinct`: distinct io_ids read over the whole cursor; `stuck`: the cursor
/// could not advance.
pub fn keyset_check(counted: u64, first_returned: u64, distinct: u64, stuck: bool) -> KeysetCheck {
    // A count below the first page's own rows means JST did not count (e.g. it ignores
    // is_get_total with start_ts): nothing to check against.
    if stuck || counted < first_returned || distinct < counted {
        KeysetCheck::Reread
    } else {
        KeysetCheck::Complete
    }
}

/// Why a range could not be read (the caller retries the range later).
#[derive(Debug, thiserror::Error)]
pub enum PagingError {
    #[error("orders at {at} kept changing over {MAX_STABLE_PASSES} passes; will retry")]
    Unstable { at: NaiveDateTime },
    #[error("start_ts paging made no progress at ts {start_ts} (rows without a larger ts)")]
    Stuck { start_ts: i64 },
}

/// What reads a range: fetches one page (retrying as it sees fit: a page must never be
/// skipped) and takes the rows of an answer the strategy accepts. Rows of a page that a
/// split discards are never passed to `accept`; the same io_id may be passed more than once.
pub trait PageReader: Send {
    type Error: From<PagingError> + Send;
    fn fetch(
        &mut self,
        query: &OutboundQuery,
    ) -> impl Future<Output = Result<OutboundPage, Self::Error>> + Send;
    fn accept(
        &mut self,
        page: OutboundPage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// The query for one range with `task`'s filters and one `status` (`None`: no filter).
pub fn range_query(
    task: &SyncTask,
    status: Option<&str>,
    range: Range,
    page_index: u32,
) -> OutboundQuery {
    let fmt = |t: NaiveDateTime| t.format(j2t_domain::JST_TIME_FORMAT).to_string();
    OutboundQuery {
        shop_id: task.shop_id,
        is_offline_shop: task.is_offline_shop,
        status: status.map(str::to_string),
        modified_begin: Some(fmt(range.start)),
        modified_end: Some(fmt(range.end)),
        date_type: Some(task.date_type),
        page_index,
        page_size: task.page_size,
        so_ids: Some(task.so_ids.clone()).filter(|ids| !ids.is_empty()),
        wms_co_id: task.wms_co_id,
        start_ts: None,
        is_get_total: None,
    }
}

/// How a range is read when `task.statuses` names several (JST's `status` filter takes one
/// value, so each status read on its own costs at least one request per range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusRead {
    /// One request for the range without a status filter and with the total; when it holds
    /// the whole range (one consistent answer, as in `snapshot`) its rows of the wanted
    /// statuses are taken, whatever the number of statuses. A range that does not fit is
    /// read [`StatusRead::Apart`] (the page is discarded) — so a quiet range costs one
    /// request, a busy one a request more than `Apart` would.
    #[default]
    Together,
    /// Each status on its own, with the task's paging strategy.
    Apart,
}

/// What a range read showed about its density, to choose how the next range is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// Read together: every order of the range, of any status, fitted one page.
    Fitted,
    /// Read together over several pages; this many orders of other statuses came along.
    Continued { others: u64 },
    /// Read together: more orders than a page, many of other statuses (the range was then
    /// read apart).
    Overflowed,
    /// Read apart: this many distinct orders in the wanted statuses.
    ReadApart { orders: u64 },
}

/// Ranges of a task tend to look alike (days of one shop), so the next range of a task with
/// `statuses` statuses is read the way that would have been cheapest for this one. Back to
/// `Together` only below half a page, leaving room for the orders of other statuses, which
/// `Together` also reads.
pub fn next_status_read(outcome: StatusOutcome, page_size: u32, statuses: usize) -> StatusRead {
    match outcome {
        StatusOutcome::Fitted => StatusRead::Together,
        StatusOutcome::Continued { others } if cheaper_together(others, page_size, statuses) => {
            StatusRead::Together
        }
        StatusOutcome::Continued { .. } => StatusRead::Apart,
        StatusOutcome::Overflowed => StatusRead::Apart,
        StatusOutcome::ReadApart { orders } if orders <= u64::from(page_size / 2) => {
            StatusRead::Together
        }
        StatusOutcome::ReadApart { .. } => StatusRead::Apart,
    }
}

/// After a together request that did not hold the whole range (`counted` orders, `returned`
/// rows on the page, `wanted` of them in the task's statuses): go on reading together when
/// the orders of other statuses it would also read, estimated from the page, take fewer
/// requests than reading each further status apart (at least one request each).
pub fn continue_together(
    counted: u64,
    returned: u64,
    wanted: u64,
    page_size: u32,
    statuses: usize,
) -> bool {
    if returned == 0 {
        return false;
    }
    let others = counted.saturating_mul(returned.saturating_sub(wanted)) / returned;
    cheaper_together(others, page_size, statuses)
}

/// `others` orders of other statuses read along cost fewer requests than reading each
/// status after the first apart (at least one request each).
fn cheaper_together(others: u64, page_size: u32, statuses: usize) -> bool {
    others < u64::from(page_size).saturating_mul(statuses.saturating_sub(1) as u64)
}

/// Reads every order of `range` (at most 7 days) with `task`'s filters and paging strategy.
/// Without statuses: one read without a status filter; with one: a read filtered on it;
/// with several: as `how` says ([`StatusRead`]), updated for the next range of the task. An
/// order that moves between two wanted statuses while they are read apart may come twice,
/// never not at all unless it left every status read.
pub async fn read_range<R: PageReader>(
    task: &SyncTask,
    range: Range,
    reader: &mut R,
    how: &mut StatusRead,
) -> Result<(), R::Error> {
    match task.statuses.as_slice() {
        [] => return read_status(task, None, range, reader, None).await,
        [status] => return read_status(task, Some(status.as_str()), range, reader, None).await,
        _ => {}
    }
    let k = task.statuses.len();
    if *how == StatusRead::Together {
        // The strategy's own first query (with the total), so the read can go on from it.
        let query = OutboundQuery {
            start_ts: (task.paging != Paging::Snapshot).then_some(0),
            is_get_total: Some(true),
            ..range_query(task, None, range, 1)
        };
        let page = reader.fetch(&query).await?;
        let returned = page.rows();
        let mut filtered = Taking::new(&mut *reader, Some(&task.statuses));
        if !page.has_next && returned >= page.data_count {
            *how = next_status_read(StatusOutcome::Fitted, task.page_size, k);
            return filtered.accept(page).await;
        }
        let wanted = page
            .datas
            .iter()
            .filter(|o| is_of(o, &task.statuses))
            .count() as u64;
        let go_on = continue_together(
            page.data_count,
            returned,
            wanted,
            task.page_size,
            task.statuses.len(),
        );
        if go_on {
            read_status(task, None, range, &mut filtered, Some(page)).await?;
            let others = filtered.others.len() as u64;
            *how = next_status_read(StatusOutcome::Continued { others }, task.page_size, k);
            return Ok(());
        }
        *how = next_status_read(StatusOutcome::Overflowed, task.page_size, k);
    }
    let mut counted = Taking::new(reader, None);
    for status in &task.statuses {
        read_status(task, Some(status.as_str()), range, &mut counted, None).await?;
    }
    let orders = counted.io_ids.len() as u64;
    *how = next_status_read(StatusOutcome::ReadApart { orders }, task.page_size, k);
    Ok(())
}

/// The rows of `page` in one of `statuses`. A row that could not be decoded is kept unless
/// its status could be read and is another: the reader dead-letters it rather than lose a
/// shipped order.
fn of_statuses(mut page: OutboundPage, statuses: &[String]) -> OutboundPage {
    page.datas.retain(|o| is_of(o, statuses));
    page.unreadable.retain(|o| {
        o.status
            .as_ref()
            .is_none_or(|s| statuses.iter().any(|wanted| wanted == s))
    });
    page
}

fn is_of(order: &Value, statuses: &[String]) -> bool {
    order
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| statuses.iter().any(|wanted| wanted == s))
}

/// A reader that takes only the rows of `statuses` (all rows: `None`) and counts the
/// distinct orders it took and those it left.
struct Taking<'a, R> {
    reader: &'a mut R,
    statuses: Option<&'a [String]>,
    io_ids: HashSet<i64>,
    others: HashSet<i64>,
}

impl<'a, R> Taking<'a, R> {
    fn new(reader: &'a mut R, statuses: Option<&'a [String]>) -> Self {
        Self {
            reader,
            statuses,
            io_ids: HashSet::new(),
            others: HashSet::new(),
        }
    }
}

impl<R: PageReader> PageReader for Taking<'_, R> {
    type Error = R::Error;
    fn fetch(
        &mut self,
        query: &OutboundQuery,
    ) -> impl Future<Output = Result<OutboundPage, Self::Error>> + Send {
        self.reader.fetch(query)
    }
    fn accept(
        &mut self,
        mut page: OutboundPage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        if let Some(statuses) = self.statuses {
            let all: Vec<i64> = page.datas.iter().filter_map(j2t_domain::io_id_of).collect();
            page = of_statuses(page, statuses);
            let kept: HashSet<i64> = page.datas.iter().filter_map(j2t_domain::io_id_of).collect();
            self.others
                .extend(all.into_iter().filter(|id| !kept.contains(id)));
        }
        self.io_ids
            .extend(page.datas.iter().filter_map(j2t_domain::io_id_of));
        self.reader.accept(page)
    }
}

/// One status (or none) of a range, with the task's paging strategy; `fetched`: the answer
/// to the strategy's first query, when the caller already has it.
async fn read_status<R: PageReader>(
    task: &SyncTask,
    status: Option<&str>,
    range: Range,
    reader: &mut R,
    fetched: Option<OutboundPage>,
) -> Result<(), R::Error> {
    match task.paging {
        Paging::Keyset => read_keyset(task, status, range, reader, fetched).await,
        Paging::Snapshot => read_snapshots(task, status, range, reader, fetched).await,
        Paging::StartTs => read_by_ts(task, status, range, reader, fetched).await,
    }
}

/// The snapshot strategy.
async fn read_snapshots<R: PageReader>(
    task: &SyncTask,
    status: Option<&str>,
    range: Range,
    reader: &mut R,
    mut fetched: Option<OutboundPage>,
) -> Result<(), R::Error> {
    let mut todo = vec![range];
    while let Some(range) = todo.pop() {
        let page =
            take_or_fetch(&mut fetched, reader, &range_query(task, status, range, 1)).await?;
        let first = FirstPage {
            has_next: page.has_next,
            returned: page.rows(),
            data_count: page.data_count,
        };
        match snapshot_step(range, first, task.page_size) {
            SnapshotStep::Take => reader.accept(page).await?,
            SnapshotStep::PageUntilStable => read_until_stable(task, status, range, reader).await?,
            // Reversed onto the stack, so parts are read in time order.
            SnapshotStep::Split(parts) => todo.extend(parts.into_iter().rev()),
        }
    }
    Ok(())
}

/// A single second with more orders than a page: page through it until two passes agree,
/// so no row slipped between pages.
async fn read_until_stable<R: PageReader>(
    task: &SyncTask,
    status: Option<&str>,
    range: Range,
    reader: &mut R,
) -> Result<(), R::Error> {
    let mut previous: Option<BTreeSet<(i64, i64)>> = None;
    for _ in 0..MAX_STABLE_PASSES {
        let mut pass = BTreeSet::new();
        let mut page_index = 1;
        loop {
            let page = reader
                .fetch(&range_query(task, status, range, page_index))
                .await?;
            pass.extend(page.datas.iter().filter_map(|o| {
                Some((
                    j2t_domain::io_id_of(o)?,
                    o.get("ts").and_then(Value::as_i64).unwrap_or(0),
                ))
            }));
            pass.extend(page.unreadable.iter().filter_map(|o| Some((o.io_id?, 0))));
            let has_next = page.has_next;
            reader.accept(page).await?;
            if !has_next {
                break;
            }
            page_index += 1;
        }
        if previous.as_ref() == Some(&pass) {
            return Ok(());
        }
        previous = Some(pass);
    }
    Err(PagingError::Unstable { at: range.start }.into())
}

/// The keyset strategy: a counted start_ts cursor, re-read by snapshot unless the count holds.
async fn read_keyset<R: PageReader>(
    task: &SyncTask,
    status: Option<&str>,
    range: Range,
    reader: &mut R,
    mut fetched: Option<OutboundPage>,
) -> Result<(), R::Error> {
    let mut start_ts = 0;
    let mut first: Option<(u64, u64)> = None;
    let mut read = HashSet::new();
    let stuck = loop {
        let query = OutboundQuery {
            start_ts: Some(start_ts),
            is_get_total: Some(first.is_none()),
            ..range_query(task, status, range, 1)
        };
        // The first page, when the caller already asked exactly this query.
        let page = take_or_fetch(&mut fetched, reader, &query).await?;
        let returned = page.rows() as usize;
        first.get_or_insert((page.data_count, returned as u64));
        read.extend(page.datas.iter().filter_map(j2t_domain::io_id_of));
        read.extend(page.unreadable.iter().filter_map(|o| o.io_id));
        let max_ts = page.max_ts();
        // A first page that holds the whole counted range is one consistent answer for it
        // (as in `snapshot`): even a full page then needs no second request.
        let whole = start_ts == 0
            && !page.has_next
            && returned as u64 >= page.data_count
            && first.is_some_and(|(counted, _)| counted == page.data_count)
            && read.len() == returned;
        let step = if whole {
            TsStep::Done
        } else {
            ts_step(start_ts, returned, task.page_size, max_ts)
        };
        reader.accept(page).await?;
        match step {
            TsStep::Done => break false,
            TsStep::From(ts) => start_ts = ts,
            TsStep::Stuck => break true,
        }
    };
    let (counted, first_returned) = first.unwrap_or_default();
    match keyset_check(counted, first_returned, read.len() as u64, stuck) {
        KeysetCheck::Complete => Ok(()),
        KeysetCheck::Reread => {
            tracing::info!(
                counted,
                read = read.len(),
                stuck,
                start = %range.start,
                end = %range.end,
                "keyset read fewer orders than JST counted; reading the range again as snapshots"
            );
            read_snapshots(task, status, range, reader, None).await
        }
    }
}

/// The answer to a strategy's first query when the caller already has it, else asked now.
async fn take_or_fetch<R: PageReader>(
    fetched: &mut Option<OutboundPage>,
    reader: &mut R,
    query: &OutboundQuery,
) -> Result<OutboundPage, R::Error> {
    match fetched.take() {
        Some(page) => Ok(page),
        None => reader.fetch(query).await,
    }
}

/// The start_ts strategy.
async fn read_by_ts<R: PageReader>(
    task: &SyncTask,
    status: Option<&str>,
    range: Range,
    reader: &mut R,
    mut fetched: Option<OutboundPage>,
) -> Result<(), R::Error> {
    let mut start_ts = 0;
    loop {
        let query = OutboundQuery {
            start_ts: Some(start_ts),
            is_get_total: Some(false),
            ..range_query(task, status, range, 1)
        };
        let page = take_or_fetch(&mut fetched, reader, &query).await?;
        let max_ts = page.max_ts();
        let returned = page.rows() as usize;
        let step = ts_step(start_ts, returned, task.page_size, max_ts);
        reader.accept(page).await?;
        match step {
            TsStep::Done => return Ok(()),
            TsStep::From(ts) => start_ts = ts,
            TsStep::Stuck => return Err(PagingError::Stuck { start_ts }.into()),
        }
    }
}

#[cfg(test)]
mod sim;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_steps() {
        let day = Range {
            start: t("2026-11-25 00:00:00"),
            end: t("2026-11-25 23:59:59"),
        };
        let second = Range {
            start: t("2026-11-25 10:00:00"),
            end: t("2026-11-25 10:00:00"),
        };
        let page = |has_next, returned, data_count| FirstPage {
            has_next,
            returned,
            data_count,
        };
        assert_eq!(
            snapshot_step(day, page(false, 0, 0), 50),
            SnapshotStep::Take
        );
        assert_eq!(
            snapshot_step(day, page(false, 50, 50), 50),
            SnapshotStep::Take
        );
        // has_next, or fewer rows than counted (the data moved): not one consistent answer.
        assert_eq!(
            snapshot_step(day, page(true, 50, 120), 50),
            SnapshotStep::Split(day.split(4))
        );
        assert_eq!(
            snapshot_step(day, page(false, 49, 50), 50),
            SnapshotStep::Split(day.split(2))
        );
        assert_eq!(
            snapshot_step(second, page(true, 50, 51), 50),
            SnapshotStep::PageUntilStable
        );
        assert_eq!(
            snapshot_step(second, page(false, 7, 7), 50),
            SnapshotStep::Take
        );
    }

    #[test]
    fn reading_together_goes_on_while_other_statuses_are_rare() {
        // 1,000 counted, 50 on the page: 40 wanted → ~200 others, more than one more status
        // costs (50): apart. 49 wanted → ~20 others: together.
        assert!(!continue_together(1_000, 50, 40, 50, 2));
        assert!(continue_together(1_000, 50, 49, 50, 2));
        // Three statuses apart cost two more requests at least: up to 99 others is fine.
        assert!(continue_together(1_000, 50, 46, 50, 3));
        assert!(!continue_together(1_000, 50, 45, 50, 3));
        assert!(!continue_together(1_000, 0, 0, 50, 2));
    }

    #[test]
    fn read_together_keeps_the_wanted_statuses_and_unreadable_rows_of_unknown_status() {
        let bad = |io_id, status: Option<&str>| crate::UnreadableOrder {
            io_id: Some(io_id),
            status: status.map(str::to_string),
            raw: String::new(),
            reason: String::new(),
        };
        let page = OutboundPage {
            page_index: 1,
            page_size: 50,
            data_count: 6,
            page_count: 1,
            has_next: false,
            datas: vec![
                serde_json::json!({"io_id": 1, "status": "Confirmed"}),
                serde_json::json!({"io_id": 2, "status": "WaitConfirm"}),
                serde_json::json!({"io_id": 3, "status": "Archive"}),
            ],
            unreadable: vec![
                bad(4, Some("Delete")),
                bad(5, Some("Archive")),
                bad(6, None),
            ],
        };
        let wanted = ["Confirmed".to_string(), "Archive".to_string()];
        let kept = of_statuses(page, &wanted);
        let ids: Vec<_> = kept.datas.iter().filter_map(j2t_domain::io_id_of).collect();
        assert_eq!(ids, vec![1, 3]);
        let bad_ids: Vec<_> = kept.unreadable.iter().filter_map(|o| o.io_id).collect();
        assert_eq!(bad_ids, vec![5, 6]);
    }

    #[test]
    fn keyset_checks() {
        use KeysetCheck::*;
        assert_eq!(keyset_check(120, 50, 120, false), Complete);
        assert_eq!(keyset_check(120, 50, 121, false), Complete); // an order inserted meanwhile
        assert_eq!(keyset_check(0, 0, 0, false), Complete); // an empty range
        assert_eq!(keyset_check(120, 50, 119, false), Reread); // one left or was skipped
        assert_eq!(keyset_check(0, 50, 200, false), Reread); // JST did not count
        assert_eq!(keyset_check(120, 50, 120, true), Reread);
    }

    #[test]
    fn ts_steps() {
        assert_eq!(ts_step(0, 49, 50, Some(9)), TsStep::Done);
        assert_eq!(ts_step(0, 0, 50, None), TsStep::Done);
        assert_eq!(ts_step(0, 50, 50, Some(9)), TsStep::From(9));
        assert_eq!(ts_step(9, 50, 50, Some(9)), TsStep::Stuck);
        assert_eq!(ts_step(9, 50, 50, None), TsStep::Stuck);
    }

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, j2t_domain::JST_TIME_FORMAT).expect("valid")
    }

    #[test]
    fn split_covers_the_range_without_gaps_or_overlap() {
        let range = Range {
            start: t("2026-11-25 00:00:00"),
            end: t("2026-11-25 23:59:59"),
        };
        for parts in [1, 2, 3, 7, 32] {
            let pieces = range.split(parts);
            assert_eq!(pieces.len() as i64, parts);
            assert_eq!(pieces[0].start, range.start);
            assert_eq!(pieces[pieces.len() - 1].end, range.end);
            for pair in pieces.windows(2) {
                assert_eq!(pair[1].start, pair[0].end + Duration::seconds(1));
            }
            assert!(pieces.iter().all(|p| p.start <= p.end));
            assert_eq!(pieces.iter().map(Range::seconds).sum::<i64>(), 86_400);
        }
    }

    #[test]
    fn split_never_makes_empty_parts() {
        let range = Range {
            start: t("2026-11-25 00:00:00"),
            end: t("2026-11-25 00:00:02"),
        };
        let pieces = range.split(10);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.seconds() == 1));
    }

    #[test]
    fn parts_aim_at_three_quarters_of_a_page() {
        assert_eq!(parts_for(51, 50), 2);
        assert_eq!(parts_for(120, 50), 4);
        assert_eq!(parts_for(1_000_000, 50), 32);
    }
}
