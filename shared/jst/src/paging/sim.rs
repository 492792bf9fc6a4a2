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

use super::{PageReader, PagingError, Range, range_query, read_range};
use crate::{OutboundPage, OutboundQuery};

#[derive(Debug, Clone)]
struct Order {
    io_id: i64,
    io_date: NaiveDateTime,
    modified: NaiveDateTime,
    ts: i64,
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
        }
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
            .map(|o| json!({"io_id": o.io_id, "ts": o.ts}))
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
            now(read_range(&task(paging, date_type, 50), day(), &mut jst)).expect("read")
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

/// The acceptance floor: the default strategy keeps ≥ 0.85 of the ceiling (50 orders per
/// request at page_size 50) on a dense day, data changing or not.
#[test]
fn the_default_paging_fills_pages_on_a_dense_day() {
    let default = j2t_config::Config::load_with_env(None, Some(Default::default()))
        .expect("defaults")
        .fetcher
        .sync_tasks()[0]
        .paging;
    for drift in [0.0, 0.05] {
        let out = read_day(Some(default), 20_000, DateType::IoDate, drift, 7);
        assert_eq!(out.missed, 0);
        assert!(
            out.per_request() >= 0.85 * 50.0,
            "{} orders in {} requests = {:.1} per request (drift {drift}) is below 0.85 of 50",
            out.orders,
            out.requests,
            out.per_request()
        );
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
}
