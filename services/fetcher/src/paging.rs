//! How a window is read so that no order is missed while JST's data changes underneath.
//!
//! Paging by `page_index` over a result that changes between requests skips rows: when an
//! order on an earlier page is modified (it re-sorts to the end) or leaves the filter, every
//! later row moves up one place and one of them slips past the page boundary. The JST doc
//! warns about exactly this. Two strategies avoid it:
//!
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
//! Orders modified during the sync that leave the window (date_type 0 moves them to `now`)
//! are picked up by a later window; the synced-io_id store keeps them from counting twice.

use chrono::{Duration, NaiveDateTime};

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
