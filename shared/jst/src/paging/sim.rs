//! The paging strategies over a simulated day, counting requests: how full the pages are
//! (the rate limit's ceiling is one page of `page_size` orders per request) and whether any
//! order is missed while the data changes between requests. Pure: an in-memory JST with
//! the same ordering rules as the simulator (rows by (`modified`, io_id); by `ts` with a
//! `start_ts` cursor, `>=`), no I/O, no time.

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use j2t_config::{DateType, Paging, SyncTask};
use serde_json::json;

use super::{
    PageReader, PagingError, Range, StatusOutcome, StatusRead, next_status_read, range_query,
    read_range,
};
use crate::{OutboundPage, OutboundQuery};

#[derive(Debug, Clone)]
struct Order {
    io_id: i64,
    io_date: NaiveDateTime,
    modified: NaiveDateTime,
    ts: i64,
    status: &'static str,
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

struct Jst {
    book: Vec<Order>,
    date_type: DateType,
    drift: f64,
    rng: Rng,
    next_ts: i64,
    next_io_id: i64,
    /// "Now" for drift: after the day, so a modified order leaves a `modified` range.
    now: NaiveDateTime,
    requests: u64,
    accepted: HashSet<i64>,
    /// Drift also archives the order it modifies (a status change mid-read).
    archive_on_modify: bool,
}

fn day() -> Range {
    let start = NaiveDate::from_ymd_opt(2026, 11, 25)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid");
    Range {
        start,
        end: start + Duration::seconds(86_399),
    }
}

impl Jst {
    /// `orders` over the day, two thirds of them in a busy 6 hours (uneven, as shops are).
    fn new(orders: u32, date_type: DateType, drift: f64, seed: u64) -> Self {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let start = day().start;
        let book = (0..i64::from(orders))
            .map(|i| {
                let second = if rng.below(3) < 2 {
                    10 * 3600 + rng.below(6 * 3600)
                } else {
                    rng.below(86_400)
                };
                let at = start + Duration::seconds(second as i64);
                Order {
                    io_id: 1_000_000 + i,
                    io_date: at,
                    modified: at,
                    ts: 0,
                    status: "Confirmed",
                }
            })
            .collect::<Vec<_>>();
        // Rowversions in modification order, as a database assigns them.
        let mut book = book;
        book.sort_by_key(|o| (o.modified, o.io_id));
        for (i, o) in book.iter_mut().enumerate() {
            o.ts = i as i64 + 1;
        }
        let next_ts = book.len() as i64 + 1;
        Self {
            book,
            date_type,
            drift,
            rng,
            next_ts,
            next_io_id: 9_000_000,
            now: day().end + Duration::seconds(600),
            requests: 0,
            accepted: HashSet::new(),
            archive_on_modify: false,
        }
    }

    /// Makes every `every`-th order not shipped (`WaitConfirm`), as a shop's day holds some,
    /// and lets drift archive the orders it modifies.
    fn with_statuses(mut self, every: usize, archive_on_modify: bool) -> Self {
        for o in self.book.iter_mut().skip(every / 2).step_by(every.max(1)) {
            o.status = "WaitConfirm";
        }
        self.archive_on_modify = archive_on_modify;
        self
    }

    /// The io_ids in `range` whose status is one of `statuses`.
    fn in_range_of(&self, range: Range, statuses: &[&str]) -> HashSet<i64> {
        self.book
            .iter()
            .filter(|o| (range.start..=range.end).contains(&self.at(o)))
            .filter(|o| statuses.contains(&o.status))
            .map(|o| o.io_id)
            .collect()
    }

    fn at(&self, o: &Order) -> NaiveDateTime {
        match self.date_type {
            DateType::Modified => o.modified,
            DateType::IoDate => o.io_date,
        }
    }

    fn in_range(&self, range: Range) -> HashSet<i64> {
        self.book
            .iter()
            .filter(|o| (range.start..=range.end).contains(&self.at(o)))
            .map(|o| o.io_id)
            .collect()
    }

    /// Like the simulator: before answering, maybe modify one order the query selects (it
    /// gets a new ts and `modified = now`) or insert one into the queried range.
    fn maybe_drift(&mut self, range: Range) {
        if !self.rng.chance(self.drift) {
            return;
        }
        self.now += Duration::seconds(1);
        let ts = self.next_ts;
        self.next_ts += 1;
        let selected: Vec<usize> = (0..self.book.len())
            .filter(|&i| (range.start..=range.end).contains(&self.at(&self.book[i])))
            .collect();
        if !selected.is_empty() && self.rng.below(10) < 7 {
            let i = selected[self.rng.below(selected.len() as u64) as usize];
            self.book[i].modified = self.now;
            self.book[i].ts = ts;
            if self.archive_on_modify && self.book[i].status == "Confirmed" {
                self.book[i].status = "Archive";
            }
        } else {
            let at = range.start + Duration::seconds(self.rng.below(range.seconds() as u64) as i64);
            self.book.push(Order {
                io_id: self.next_io_id,
                io_date: at,
                modified: if self.date_type == DateType::Modified {
                    at
                } else {
                    self.now
                },
                ts,
                status: "Confirmed",
            });
            self.next_io_id += 1;
        }
    }

    fn answer(&mut self, query: &OutboundQuery) -> OutboundPage {
        self.requests += 1;
        let parse = |t: &Option<String>| {
            NaiveDateTime::parse_from_str(t.as_deref().expect("a window"), "%Y-%m-%d %H:%M:%S")
                .expect("valid time")
        };
        let range = Range {
            start: parse(&query.modified_begin),
            end: parse(&query.modified_end),
        };
        self.maybe_drift(range);
        let mut rows: Vec<&Order> = self
            .book
            .iter()
            .filter(|o| (range.start..=range.end).contains(&self.at(o)))
            .filter(|o| query.start_ts.is_none_or(|ts| o.ts >= ts))
            .filter(|o| query.status.as_deref().is_none_or(|s| o.status == s))
            .collect();
        if query.start_ts.is_some() {
            rows.sort_by_key(|o| o.ts);
        } else {
            rows.sort_by_key(|o| (o.modified, o.io_id));
        }
        let size = query.page_size as usize;
        let datas: Vec<_> = rows
            .iter()
            .skip((query.page_index as usize - 1) * size)
            .take(size)
            .map(|o| json!({"io_id": o.io_id, "ts": o.ts, "status": o.status}))
            .collect();
        let counted = query.is_get_total != Some(false);
        let count = rows.len() as u64;
        let page_count = count.div_ceil(size as u64);
        OutboundPage {
            page_index: query.page_index,
            page_size: query.page_size,
            data_count: if counted { count } else { 0 },
            page_count: if counted { page_count } else { 0 },
            has_next: if counted {
                u64::from(query.page_index) < page_count
            } else {
                datas.len() == size
            },
            datas,
            unreadable: Vec::new(),
        }
    }
}

impl PageReader for Jst {
    type Error = PagingError;
    fn fetch(
        &mut self,
        query: &OutboundQuery,
    ) -> impl Future<Output = Result<OutboundPage, PagingError>> + Send {
        let page = self.answer(query);
        async move { Ok(page) }
    }
    fn accept(
        &mut self,
        page: OutboundPage,
    ) -> impl Future<Output = Result<(), PagingError>> + Send {
        self.accepted
            .extend(page.datas.iter().filter_map(j2t_domain::io_id_of));
        async { Ok(()) }
    }
}

/// The futures here never wait (the reader answers at once), so polling once finishes them.
fn now<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the simulated reader never waits"),
    }
}

fn task(paging: Paging, date_type: DateType, page_size: u32) -> SyncTask {
    SyncTask {
        name: "default".into(),
        start_time: None,
        paging,
        page_size,
        statuses: vec!["Confirmed".into()],
        date_type,
        shop_id: None,
        wms_co_id: None,
        is_offline_shop: None,
        so_ids: Vec::new(),
    }
}

struct Outcome {
    orders: usize,
    requests: u64,
    missed: usize,
}

impl Outcome {
    fn per_request(&self) -> f64 {
        self.orders as f64 / self.requests.max(1) as f64
    }
}

/// Reads one day; `missed`: orders in the range both before and after the read (so no
/// strategy can excuse them) that were never accepted.
fn read_day(
    paging: Option<Paging>,
    orders: u32,
    date_type: DateType,
    drift: f64,
    seed: u64,
) -> Outcome {
    let mut jst = Jst::new(orders, date_type, drift, seed);
    let before = jst.in_range(day());
    match paging {
        Some(paging) => {
            let mut how = StatusRead::default();
            now(read_range(
                &task(paging, date_type, 50),
                day(),
                &mut jst,
                &mut how,
            ))
            .expect("read")
        }
        None => naive(&task(Paging::Snapshot, date_type, 50), &mut jst),
    }
    let after = jst.in_range(day());
    let missed = before
        .intersection(&after)
        .filter(|id| !jst.accepted.contains(id))
        .count();
    Outcome {
        orders: after.len(),
        requests: jst.requests,
        missed,
    }
}

/// Naive `page_index` paging: what the strategies exist to avoid.
fn naive(task: &SyncTask, jst: &mut Jst) {
    let mut page_index = 1;
    loop {
        let page = jst.answer(&range_query(task, Some("Confirmed"), day(), page_index));
        let more = page.has_next;
        jst.accepted
            .extend(page.datas.iter().filter_map(j2t_domain::io_id_of));
        if !more {
            return;
        }
        page_index += 1;
    }
}

/// Reads one day with `task` (its statuses, paging and date type) starting as `how` says;
/// `missed`: orders of the task's statuses in the range before and after the read that were
/// never accepted; `orders`: those in the range after it; `unwanted`: orders of other
/// statuses that were accepted.
fn read_day_as(task: &SyncTask, mut jst: Jst, how: &mut StatusRead) -> (Outcome, usize) {
    let wanted: Vec<&str> = task.statuses.iter().map(String::as_str).collect();
    let before = jst.in_range_of(day(), &wanted);
    now(read_range(task, day(), &mut jst, how)).expect("read");
    let after = jst.in_range_of(day(), &wanted);
    let missed = before
        .intersection(&after)
        .filter(|id| !jst.accepted.contains(id))
        .count();
    let everything = jst.in_range(day());
    let unwanted = jst
        .accepted
        .iter()
        .filter(|id| everything.contains(id) && !after.contains(id) && !before.contains(id))
        .count();
    let out = Outcome {
        orders: after.len(),
        requests: jst.requests,
        missed,
    };
    (out, unwanted)
}

fn default_task() -> SyncTask {
    j2t_config::Config::load_with_env(None, Some(Default::default()))
        .expect("defaults")
        .fetcher
        .sync_tasks()[0]
        .clone()
}

/// The acceptance floor: the default task (its paging strategy and its statuses, read
/// together or apart as it chooses) keeps ≥ 0.85 of the ceiling (50 orders per request at
/// page_size 50) on a dense day, data changing or not, some orders of the day not shipped.
#[test]
fn the_default_paging_fills_pages_on_a_dense_day() {
    let task = default_task();
    assert!(
        task.statuses.len() > 1,
        "the default reads more than one status"
    );
    for drift in [0.0, 0.05] {
        let jst = Jst::new(20_000, task.date_type, drift, 7).with_statuses(20, false);
        let (out, unwanted) = read_day_as(&task, jst, &mut StatusRead::default());
        assert_eq!((out.missed, unwanted), (0, 0));
        assert!(
            out.per_request() >= 0.85 * 50.0,
            "{} orders in {} requests = {:.1} per request (drift {drift}) is below 0.85 of 50",
            out.orders,
            out.requests,
            out.per_request()
        );
    }
}

/// A quiet day costs one request whatever the number of statuses: read together, the
/// orders of other statuses filtered out. Read apart (as before), it costs one per status.
#[test]
fn several_statuses_cost_one_request_on_a_quiet_day() {
    let task = default_task();
    let quiet = || Jst::new(40, task.date_type, 0.0, 3).with_statuses(5, false);
    let (together, unwanted) = read_day_as(&task, quiet(), &mut StatusRead::Together);
    assert_eq!((together.missed, unwanted), (0, 0));
    assert_eq!(together.orders, 32, "8 of the 40 are not shipped");
    assert_eq!(together.requests, 1);
    let (apart, _) = read_day_as(&task, quiet(), &mut StatusRead::Apart);
    assert_eq!(apart.requests, task.statuses.len() as u64);
}

/// Reading together or apart, with orders modified, inserted and archived between
/// requests, no order of a wanted status is missed and none of another status is taken.
#[test]
fn several_statuses_miss_nothing_while_orders_change_status() {
    let base = default_task();
    for paging in Paging::ALL {
        let task = SyncTask {
            paging: *paging,
            ..base.clone()
        };
        for orders in [30, 800, 5_000] {
            for seed in 1..4 {
                for start in [StatusRead::Together, StatusRead::Apart] {
                    let jst = Jst::new(orders, task.date_type, 0.3, seed).with_statuses(7, true);
                    let (out, unwanted) = read_day_as(&task, jst, &mut start.clone());
                    assert_eq!(
                        (out.missed, unwanted),
                        (0, 0),
                        "{paging:?} {start:?} {orders}/day seed {seed}"
                    );
                }
            }
        }
    }
}

/// A busy day read together overflows its first page: that page is discarded, the day is
/// read apart, and the next day starts apart (no second wasted probe).
#[test]
fn a_busy_day_switches_to_reading_apart() {
    let task = default_task();
    let busy = || Jst::new(5_000, task.date_type, 0.0, 5).with_statuses(10, false);
    let mut how = StatusRead::Together;
    let (together, _) = read_day_as(&task, busy(), &mut how);
    assert_eq!(how, StatusRead::Apart);
    let (apart, _) = read_day_as(&task, busy(), &mut how);
    assert_eq!(how, StatusRead::Apart);
    assert_eq!(together.requests, apart.requests + 1);
}

/// A busy day with few orders of other statuses is read together, at the cost of one
/// status read apart: the extra status needs no request of its own.
#[test]
fn a_busy_day_with_few_other_statuses_is_read_together() {
    let task = default_task();
    let busy = || Jst::new(4_000, task.date_type, 0.0, 5).with_statuses(250, false);
    let mut how = StatusRead::Together;
    let (together, unwanted) = read_day_as(&task, busy(), &mut how);
    assert_eq!((together.missed, unwanted), (0, 0));
    assert_eq!(how, StatusRead::Together);
    let (apart, _) = read_day_as(&task, busy(), &mut StatusRead::Apart);
    assert!(
        together.requests < apart.requests,
        "together {} vs apart {}",
        together.requests,
        apart.requests
    );
}

#[test]
fn the_next_range_is_read_the_way_this_one_would_have_been_cheapest() {
    use StatusOutcome::*;
    use StatusRead::*;
    for (outcome, next) in [
        (Fitted, Together),
        (Continued { others: 49 }, Together),
        (Continued { others: 50 }, Apart),
        (Overflowed, Apart),
        (ReadApart { orders: 0 }, Together),
        (ReadApart { orders: 25 }, Together),
        (ReadApart { orders: 26 }, Apart),
        (ReadApart { orders: 5_000 }, Apart),
    ] {
        assert_eq!(next_status_read(outcome, 50, 2), next, "{outcome:?}");
    }
}

/// Every strategy misses nothing while orders are modified and inserted between requests,
/// on either date field, whatever the density; naive page_index paging does miss (so the
/// check can fail).
#[test]
fn no_strategy_misses_an_order_while_data_changes() {
    for date_type in [DateType::IoDate, DateType::Modified] {
        for orders in [50, 800, 5_000] {
            for seed in 1..4 {
                for paging in Paging::ALL {
                    let out = read_day(Some(*paging), orders, date_type, 0.3, seed);
                    assert_eq!(
                        out.missed, 0,
                        "{paging:?} missed orders ({orders}/day, {date_type:?}, seed {seed})"
                    );
                }
            }
        }
    }
    let naive_missed: usize = (1..4)
        .map(|seed| read_day(None, 5_000, DateType::IoDate, 0.3, seed).missed)
        .sum();
    assert!(
        naive_missed > 0,
        "naive paging should miss orders under drift"
    );
}

/// The table of the README (Benchmarks, "paging simulated"): `cargo test -p j2t-jst
/// paging_table -- --ignored --nocapture`.
#[test]
#[ignore = "prints the benchmark table"]
fn paging_table() {
    println!("paging     orders/day  drift  requests  orders/request  of ceiling");
    for paging in Paging::ALL {
        for orders in [50, 800, 5_000, 20_000] {
            for drift in [0.0, 0.05] {
                let out = read_day(Some(*paging), orders, DateType::IoDate, drift, 11);
                assert_eq!(out.missed, 0);
                println!(
                    "{:<10} {:>10}  {:>5}  {:>8}  {:>14.1}  {:>10.2}",
                    paging.as_str(),
                    out.orders,
                    drift,
                    out.requests,
                    out.per_request(),
                    out.per_request() / 50.0
                );
            }
        }
    }
    // Three days in a row, as a task reads them: how statuses are read carries over.
    println!("default task (statuses Confirmed, Archive), 3 days; not shipped: 1 in N orders");
    println!("paging     orders/day  drift  1 in N  requests  orders/request  of ceiling");
    let task = default_task();
    for every in [5, 100] {
        for shipped in [50, 800, 5_000, 20_000] {
            for drift in [0.0, 0.05] {
                let mut how = StatusRead::default();
                let (mut orders, mut requests) = (0, 0);
                for seed in 11..14 {
                    let all = shipped * every / (every - 1);
                    let jst = Jst::new(all, task.date_type, drift, seed)
                        .with_statuses(every as usize, false);
                    let (out, unwanted) = read_day_as(&task, jst, &mut how);
                    assert_eq!((out.missed, unwanted), (0, 0));
                    orders += out.orders;
                    requests += out.requests;
                }
                let per_request = orders as f64 / requests as f64;
                println!(
                    "{:<10} {:>10}  {:>5}  {:>6}  {:>8}  {:>14.1}  {:>10.2}",
                    task.paging.as_str(),
                    orders / 3,
                    drift,
                    every,
                    requests,
                    per_request,
                    per_request / 50.0
                );
            }
        }
    }
}
