//! One sync task: its cursor, its windows, reading each window (see `paging`) and publishing
//! its orders, then closing the window.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use backon::{ExponentialBuilder, Retryable};
use chrono::{NaiveDateTime, Utc};
use j2t_config::{FetcherConfig, SyncTask};
use j2t_domain::{DeadLetter, DeadLetterReason, Stage, Window, WindowClosed, io_id_of};
use j2t_jst::paging::{PageReader, Range, StatusRead, read_range};
use j2t_jst::{ApiCode, JstClient, JstError, OutboundPage, OutboundQuery};
use j2t_topology::{Topology, names};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::cursor::{CursorState, CursorStore};
use crate::seen::SeenIds;
use crate::windows::{Density, days_window, grown_days, next_window};

/// What one completed window amounted to.
#[derive(Debug)]
pub struct WindowReport {
    pub window: Window,
    pub pages: u32,
    pub orders: u64,
    /// Orders skipped because an earlier window already published them.
    pub already_synced: u64,
    /// Orders dead-lettered (unreadable, too large, without io_id).
    pub dead_lettered: u64,
    /// Set when the window itself was dead-lettered after its last allowed attempt.
    pub failed: Option<String>,
    /// The window ended at the horizon (now minus the lag): the live sync is caught up.
    pub reached_horizon: bool,
}

/// The reading half of a window: fetches pages with the task's retries and hands the rows
/// the strategy accepts (see `j2t_jst::paging` for which pages count) to the publishing half
/// (`TaskSync::read_window`), so the next page is asked for while this one is published.
struct WindowReader<'a> {
    sync: &'a TaskSync,
    /// A re-check read: each request waits for the re-check's gate.
    recheck: bool,
    /// Pages fetched so far (including those a split discards).
    pages: u32,
    accepted: mpsc::Sender<AcceptedPage>,
}

/// A page to publish, with its number among the window's fetched pages (it names the dead
/// letters of rows without an io_id).
struct AcceptedPage {
    number: u32,
    page: OutboundPage,
}

/// Accepted pages waiting for the publishing half while the next one is fetched: one keeps
/// JST and NATS busy at once; more would only hold rows longer.
const PAGES_AHEAD: usize = 1;

/// The publishing half stopped (it failed; its error is the window's).
#[derive(Debug, thiserror::Error)]
#[error("the window's publisher stopped before every accepted page was handed over")]
struct PublisherStopped;

impl PageReader for WindowReader<'_> {
    type Error = anyhow::Error;

    async fn fetch(&mut self, query: &OutboundQuery) -> anyhow::Result<OutboundPage> {
        if self.recheck {
            // Spare budget only: after the live sync, within the re-check's share.
            self.sync.recheck_admit().await?;
            metrics::counter!("j2t_fetcher_recheck_requests_total", "task" => self.sync.name().to_string())
                .increment(1);
        }
        let page = self.sync.fetch_page(query).await?;
        self.pages += 1;
        Ok(page)
    }

    async fn accept(&mut self, page: OutboundPage) -> anyhow::Result<()> {
        // `paging` accepts a page before it fetches the next: this is the page just fetched.
        let accepted = AcceptedPage {
            number: self.pages,
            page,
        };
        self.accepted
            .send(accepted)
            .await
            .map_err(|_| PublisherStopped.into())
    }
}

/// A replay request for a dead-lettered window (the value of its replay key).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct ReplayRequest {
    #[serde(default)]
    attempts: u32,
}

/// Bytes kept of an order too large to publish, in its dead letter.
const TOO_LARGE_KEPT: usize = 4096;
/// Room left for headers under the server's max payload.
const HEADER_ROOM: usize = 4096;

/// Stopped on request; the window stays pending and is fetched again next time.
#[derive(Debug, thiserror::Error)]
#[error("stopped")]
struct Stopped;

pub struct TaskSync {
    pub(crate) task: SyncTask,
    pub(crate) settings: FetcherConfig,
    utc_offset: chrono::Duration,
    jst: JstClient,
    js: async_nats::jetstream::Context,
    pub(crate) cursor: CursorStore,
    seen: SeenIds,
    /// What a re-check request waits for (see `recheck`); `None`: no re-check reads.
    pub(crate) recheck_gate: Option<crate::recheck::Gate>,
    /// Where the monitor learns that JST refused a token refresh (`j2t_signals`).
    signals: async_nats::jetstream::kv::Store,
    /// A refused refresh was signalled and not yet cleared.
    refresh_refused: bool,
    /// Requests made and seconds of JST time read by the live sync since the start: the
    /// cost per second the backfill estimate extrapolates.
    read_requests: u64,
    read_secs: u64,
    /// How the next window reads several statuses: learnt from the last window's density.
    status_read: std::sync::Mutex<StatusRead>,
    /// The last window read before the horizon: how long the next one may grow.
    last_full: Option<Density>,
}

/// The state of one window while it is read.
pub(crate) struct WindowRun {
    window: Window,
    /// The subject's last token: the window id, or a re-check's label.
    label: String,
    /// A re-check read: requests go through the re-check's gate, and only orders no window
    /// synced yet are published.
    recheck: bool,
    subject: String,
    /// `task/window`: who marks the io_ids it publishes as synced.
    owner: String,
    /// io_ids published by this run (8 bytes each: the only state that grows with the
    /// window; payloads are not kept).
    published: HashSet<i64>,
    /// Publishes not yet acknowledged: at most `max_in_flight`, awaited as they fill up.
    acks: Vec<(i64, PublishAckFuture)>,
    /// Orders acknowledged and marked synced so far.
    stored: u64,
    pages: u32,
    already_synced: u64,
    dead_lettered: u64,
}

impl TaskSync {
    pub fn new(
        task: SyncTask,
        settings: &FetcherConfig,
        utc_offset_minutes: i32,
        jst: JstClient,
        topology: &Topology,
    ) -> Self {
        Self {
            cursor: CursorStore::new(topology.cursors.clone(), &task.name),
            task,
            settings: settings.clone(),
            utc_offset: chrono::Duration::minutes(utc_offset_minutes.into()),
            jst,
            js: topology.js.clone(),
            seen: SeenIds::new(topology.seen.clone()),
            recheck_gate: None,
            signals: topology.signals.clone(),
            refresh_refused: false,
            read_requests: 0,
            read_secs: 0,
            status_read: Default::default(),
            last_full: None,
        }
    }

    /// The horizon: now minus the lag (JST local). Windows end there at the latest.
    fn horizon(&self) -> NaiveDateTime {
        self.now_local() - chrono::Duration::seconds(self.settings.lag_secs as i64)
    }

    /// After a live window: how many requests and how long until the task is caught up,
    /// from the density read so far (log line while behind, gauges always, and the progress
    /// in `state` that the console shows once the cursor is saved). A window that reached
    /// the horizon leaves nothing to catch up.
    fn track_backfill(&mut self, report: &WindowReport, state: &mut CursorState) {
        let window = report.window;
        self.read_requests += u64::from(report.pages);
        self.read_secs += window.secs();
        let horizon = self.horizon();
        let behind = (horizon - state.next_start).num_seconds();
        let estimate = if report.reached_horizon {
            crate::backfill::Estimate {
                requests: 0,
                seconds: 0,
            }
        } else {
            crate::backfill::estimate(
                behind,
                self.settings.window_secs,
                self.task.statuses.len(),
                Some(crate::backfill::Read {
                    requests: self.read_requests,
                    secs: self.read_secs,
                }),
                j2t_stores::jst_spacing(&self.settings),
            )
        };
        state.backfill = Some(crate::progress::window_closed(
            state.backfill.take(),
            crate::progress::WindowRead {
                window,
                pages: report.pages.into(),
                orders: report.orders + report.already_synced,
            },
            estimate,
            horizon,
            Utc::now(),
        ));
        let task = self.task.name.clone();
        metrics::gauge!("j2t_fetcher_backfill_remaining_requests", "task" => task.clone())
            .set(estimate.requests as f64);
        metrics::gauge!("j2t_fetcher_backfill_remaining_seconds", "task" => task.clone())
            .set(estimate.seconds as f64);
        if estimate.requests > 0 {
            tracing::info!(
                task,
                behind_secs = behind,
                requests = estimate.requests,
                seconds = estimate.seconds,
                "backfill: estimated requests and time to catch up"
            );
        }
    }

    /// Re-check reads wait for `gate` (spare budget only).
    pub fn with_recheck_gate(mut self, gate: crate::recheck::Gate) -> Self {
        self.recheck_gate = Some(gate);
        self
    }

    pub fn name(&self) -> &str {
        &self.task.name
    }

    pub(crate) fn now_local(&self) -> NaiveDateTime {
        Utc::now().naive_utc() + self.utc_offset
    }

    fn initial_start(&self) -> NaiveDateTime {
        self.task.start_time.unwrap_or_else(|| {
            self.now_local() - chrono::Duration::seconds(self.settings.initial_lookback_secs as i64)
        })
    }

    /// Syncs one window if one is due (a requested replay first). `Ok(None)`: caught up, or
    /// asked to stop. A window still failing after `max_window_attempts` is dead-lettered
    /// and the task moves on.
    pub async fn step(
        &mut self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<WindowReport>> {
        if let Some((key, window, request)) = self.replay_request().await? {
            return self.replay(key, window, request, shutdown).await;
        }
        let mut state = match self.cursor.load().await? {
            Some(state) => state,
            None => CursorState {
                next_start: self.initial_start(),
                pending: None,
                attempts: 0,
                backfill: None,
            },
        };
        let mut reached_horizon = false;
        let window = match state.pending {
            Some(window) => window,
            None => {
                let horizon = self.horizon();
                let Some(window) = self.next_window(state.next_start, horizon) else {
                    return Ok(None);
                };
                reached_horizon = window.end == horizon;
                state.pending = Some(window);
                state.attempts = 0;
                state.backfill = crate::progress::window_started(
                    state.backfill.take(),
                    window,
                    reached_horizon,
                    horizon,
                    Utc::now(),
                );
                // Recorded before fetching, so a crash resumes this very window.
                self.cursor.save(&state).await?;
                window
            }
        };
        let report = match self.sync_window(window, shutdown).await {
            Ok(None) => return Ok(None),
            Ok(Some(report)) => report,
            Err(error) => {
                // A refused refresh is no fault of the window: it waits, its attempts kept,
                // until an operator configures a new pair; the monitor alerts meanwhile.
                let refused = error
                    .chain()
                    .find_map(|e| e.downcast_ref::<JstError>())
                    .filter(|e| matches!(e, JstError::RefreshRefused { .. }))
                    .map(ToString::to_string);
                if let Some(reason) = refused {
                    self.signal_refresh_refused(Some(reason)).await;
                    return Err(error.context(format!("window {}", window.id())));
                }
                state.attempts += 1;
                if state.attempts < self.settings.max_window_attempts {
                    self.cursor.save(&state).await?;
                    return Err(error.context(format!(
                        "window {} attempt {} of {}",
                        window.id(),
                        state.attempts,
                        self.settings.max_window_attempts
                    )));
                }
                self.dead_letter_window(window, state.attempts, &error)
                    .await?;
                self.failed_report(window, &error)
            }
        };
        state.next_start = window.end + chrono::Duration::seconds(1);
        state.pending = None;
        state.attempts = 0;
        let report = WindowReport {
            reached_horizon,
            ..report
        };
        self.last_full = (!reached_horizon && report.failed.is_none()).then(|| Density {
            orders: report.orders + report.already_synced + report.dead_lettered,
            secs: window.secs(),
        });
        self.track_backfill(&report, &mut state);
        self.cursor.save(&state).await?;
        if self.refresh_refused {
            self.signal_refresh_refused(None).await;
        }
        Ok(Some(report))
    }

    /// The window from `start`: the configured length, or whole days while the task is quiet.
    fn next_window(&self, start: NaiveDateTime, horizon: NaiveDateTime) -> Option<Window> {
        let base = self.settings.window_secs;
        match grown_days(base, self.settings.grown_window_days(), self.last_full) {
            Some(days) => days_window(start, horizon, days),
            None => next_window(start, horizon, chrono::Duration::seconds(base as i64)),
        }
    }

    /// Records (or clears, with `None`) JST's refusal to refresh the token for the monitor;
    /// bookkeeping, never fails the task.
    async fn signal_refresh_refused(&mut self, reason: Option<String>) {
        self.refresh_refused = reason.is_some();
        let change = |s: &mut j2t_stores::Signals| match &reason {
            Some(reason) => {
                s.refresh_refused.insert(
                    "jst".into(),
                    j2t_stores::RefreshRefused {
                        reason: reason.clone(),
                        at: Utc::now(),
                    },
                );
            }
            None => {
                s.refresh_refused.remove("jst");
            }
        };
        if let Err(error) = j2t_stores::update_signals(&self.signals, change).await {
            tracing::warn!(%error, "could not record a signal for the monitor");
        }
    }

    /// The oldest window `dlq replay` asked this task to sync again, if any.
    async fn replay_request(&self) -> anyhow::Result<Option<(String, Window, ReplayRequest)>> {
        let prefix = names::window_replay_prefix(&self.task.name);
        let mut keys = self.cursor.kv().keys().await?;
        let mut found = Vec::new();
        while let Some(key) = futures::StreamExt::next(&mut keys).await {
            let key = key?;
            if key.starts_with(&prefix) {
                found.push(key);
            }
        }
        found.sort();
        for key in found {
            let Some(value) = self.cursor.kv().get(&key).await? else {
                continue;
            };
            let window = key.strip_prefix(&prefix).and_then(Window::from_id);
            let Some(window) = window else {
                tracing::warn!(key, "replay request for no window; dropped");
                self.cursor.kv().purge(&key).await?;
                continue;
            };
            let request = serde_json::from_slice(&value).unwrap_or_default();
            return Ok(Some((key, window, request)));
        }
        Ok(None)
    }

    /// Syncs a dead-lettered window again; the request is removed once the window is closed
    /// or dead-lettered anew.
    async fn replay(
        &self,
        key: String,
        window: Window,
        mut request: ReplayRequest,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<WindowReport>> {
        tracing::info!(task = %self.task.name, window = %window.id(), "replaying a dead-lettered window");
        let report = match self.sync_window(window, shutdown).await {
            Ok(None) => return Ok(None),
            Ok(Some(report)) => report,
            Err(error) => {
                request.attempts += 1;
                if request.attempts < self.settings.max_window_attempts {
                    self.cursor
                        .kv()
                        .put(&key, serde_json::to_vec(&request)?.into())
                        .await?;
                    return Err(error.context(format!("replay of window {}", window.id())));
                }
                self.dead_letter_window(window, request.attempts, &error)
                    .await?;
                self.failed_report(window, &error)
            }
        };
        self.cursor.kv().purge(&key).await?;
        Ok(Some(report))
    }

    fn failed_report(&self, window: Window, error: &anyhow::Error) -> WindowReport {
        WindowReport {
            window,
            pages: 0,
            orders: 0,
            already_synced: 0,
            dead_lettered: 0,
            failed: Some(format!("{error:#}")),
            reached_horizon: false,
        }
    }

    /// Reads, publishes and closes one window. `Ok(None)`: stopped on request.
    async fn sync_window(
        &self,
        window: Window,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<WindowReport>> {
        self.read_and_close(window, window.id(), false, shutdown)
            .await
    }

    /// Reads `window` again as a re-check labelled `label`: the orders no window synced yet
    /// are published under the label's subject and closed as a window of their own (none:
    /// nothing is published, not even the close). `Ok(None)`: stopped on request.
    pub(crate) async fn recheck_window(
        &self,
        window: Window,
        label: String,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<WindowReport>> {
        self.read_and_close(window, label, true, shutdown).await
    }

    async fn read_and_close(
        &self,
        window: Window,
        label: String,
        recheck: bool,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<WindowReport>> {
        let mut run = WindowRun {
            window,
            subject: names::orders_subject(&self.task.name, &label),
            owner: format!("{}/{label}", self.task.name),
            label,
            recheck,
            published: HashSet::new(),
            acks: Vec::new(),
            stored: 0,
            pages: 0,
            already_synced: 0,
            dead_lettered: 0,
        };
        let range = Range {
            start: window.start - chrono::Duration::seconds(self.settings.overlap_secs as i64),
            end: window.end,
        };
        let span = tracing::info_span!("sync window", task = %self.task.name, window = %run.label);
        let read = shutdown
            .run_until_cancelled(self.read_window(range, &mut run).instrument(span))
            .await
            .unwrap_or_else(|| Err(Stopped.into()));
        if let Err(error) = read {
            return match error.downcast_ref::<Stopped>() {
                Some(Stopped) => Ok(None),
                None => Err(error),
            };
        }
        self.close(run).await.map(Some)
    }

    /// A window that keeps failing: parked for a person (replayable), so the task goes on.
    async fn dead_letter_window(
        &self,
        window: Window,
        attempts: u32,
        error: &anyhow::Error,
    ) -> anyhow::Result<()> {
        let mut letter = DeadLetter::first_attempt(
            Stage::Fetcher,
            DeadLetterReason::WindowFailed,
            format!("window failed {attempts} times: {error:#}"),
            names::orders_subject(&self.task.name, &window.id()),
            serde_json::json!({
                "task": self.task.name,
                "window": window,
                "window_id": window.id(),
            }),
        );
        letter.attempts = u64::from(attempts);
        let msg_id = format!(
            "window_failed:{}:{}:{}",
            self.task.name,
            window.id(),
            chrono::Utc::now().timestamp_millis()
        );
        j2t_stores::publish_dead_letter(&self.js, &letter, &msg_id).await?;
        Ok(())
    }

    /// Waits for the PubAcks of every publish in flight, then marks their io_ids synced.
    async fn flush(&self, run: &mut WindowRun) -> anyhow::Result<()> {
        let mut io_ids = Vec::with_capacity(run.acks.len());
        for (io_id, ack) in run.acks.drain(..) {
            ack.await
                .with_context(|| format!("no PubAck for order {io_id}"))?;
            io_ids.push(io_id);
        }
        self.seen.mark(&io_ids, &run.owner).await?;
        run.stored += io_ids.len() as u64;
        Ok(())
    }

    /// Waits for the last PubAcks, marks their io_ids synced, announces the window closed.
    async fn close(&self, mut run: WindowRun) -> anyhow::Result<WindowReport> {
        self.flush(&mut run).await?;
        if run.recheck {
            metrics::counter!("j2t_fetcher_recheck_orders_total", "task" => self.task.name.clone())
                .increment(run.stored);
        }
        // A re-check that found nothing new makes no window (and no voucher).
        if !(run.recheck && run.stored == 0) {
            let closed = WindowClosed {
                task: self.task.name.clone(),
                window: run.window,
                orders_subject: run.subject,
                orders: run.stored,
            };
            j2t_topology::publish_json(
                &self.js,
                &names::windows_subject(&self.task.name),
                &format!("{}:{}", self.task.name, run.label),
                &closed,
            )
            .await?;
        }
        Ok(WindowReport {
            window: run.window,
            pages: run.pages,
            orders: run.stored,
            already_synced: run.already_synced,
            dead_lettered: run.dead_lettered,
            failed: None,
            reached_horizon: false,
        })
    }

    /// Reads the window's pages and publishes them at once: while one page's orders are
    /// looked up in `j2t_seen` and published, the next page is asked of JST (pages still
    /// follow one another: keyset paging needs the last page's `ts`). Pages are published
    /// in the order read; an error on either side fails the read, and the window is closed
    /// (PubAcks, seen marks, cursor) only after both sides are done.
    async fn read_window(&self, range: Range, run: &mut WindowRun) -> anyhow::Result<()> {
        let mut how = self.status_read.lock().map(|g| *g).unwrap_or_default();
        let (accepted, mut to_publish) = mpsc::channel(PAGES_AHEAD);
        let mut reader = WindowReader {
            sync: self,
            recheck: run.recheck,
            pages: 0,
            accepted,
        };
        let read = async {
            let read = read_range(&self.task, range, &mut reader, &mut how).await;
            let pages = reader.pages;
            // Closes the channel: the publisher ends after the last page.
            drop(reader);
            read.map(|()| pages)
        };
        let publish = async {
            while let Some(AcceptedPage { number, page }) = to_publish.recv().await {
                self.accept(page, number, run).await?;
            }
            anyhow::Ok(())
        };
        let done = tokio::try_join!(read, publish);
        if let Ok(mut last) = self.status_read.lock() {
            *last = how;
        }
        let (pages, ()) = done?;
        run.pages = pages;
        Ok(())
    }

    /// Publishes the orders of one response that are new to this window and not already
    /// synced by another window; dead-letters those that cannot go on. At most
    /// `max_in_flight` publishes wait for their PubAck at any time. `number`: the page's
    /// number among the window's fetched pages.
    async fn accept(
        &self,
        page: OutboundPage,
        number: u32,
        run: &mut WindowRun,
    ) -> anyhow::Result<()> {
        for bad in page.unreadable {
            if bad.io_id.is_some_and(|id| run.published.contains(&id)) {
                continue;
            }
            let tag = match bad.io_id {
                Some(io_id) => io_id.to_string(),
                None => format!("{:x}", hash_of(&bad.raw)),
            };
            let msg_id = format!("{}:unreadable:{tag}", run.owner);
            let error = format!(
                "order{} in a JST page is not valid JSON: {}",
                bad.io_id.map(|id| format!(" {id}")).unwrap_or_default(),
                bad.reason
            );
            let raw = truncate(&bad.raw, self.max_payload() / 2);
            self.dead_letter(
                &run.subject,
                &msg_id,
                DeadLetterReason::BadJson,
                error,
                Value::String(raw),
            )
            .await?;
            run.dead_lettered += 1;
        }
        let mut fresh = Vec::new();
        for (position, order) in page.datas.into_iter().enumerate() {
            match io_id_of(&order) {
                Some(io_id) if run.published.contains(&io_id) => {}
                Some(io_id) => fresh.push((io_id, order)),
                None => {
                    let msg_id = format!("{}:{number}:{position}", run.owner);
                    self.dead_letter(
                        &run.subject,
                        &msg_id,
                        DeadLetterReason::BadOrder,
                        "order has no usable io_id".into(),
                        order,
                    )
                    .await?;
                    run.dead_lettered += 1;
                }
            }
        }
        let ids: Vec<i64> = fresh.iter().map(|(id, _)| *id).collect();
        let owners = self.seen.owners(&ids).await?;
        let task = self.task.name.as_str();
        for (io_id, order) in fresh {
            if let Some(owner) = owners.get(&io_id)
                && *owner != run.owner
            {
                tracing::debug!(io_id, %owner, "order already synced by an earlier window");
                run.already_synced += 1;
                metrics::counter!("j2t_fetcher_orders_skipped_total", "task" => task.to_string(), "reason" => "already_synced").increment(1);
                continue;
            }
            let payload = serde_json::to_vec(&order)?;
            let limit = self.max_payload().saturating_sub(HEADER_ROOM);
            if payload.len() > limit {
                // It can never be stored: park it (its io_id and the start of its text).
                let text = String::from_utf8_lossy(&payload);
                let kept = serde_json::json!({
                    "io_id": io_id,
                    "bytes": payload.len(),
                    "truncated": truncate(&text, TOO_LARGE_KEPT),
                });
                let error = format!(
                    "order {io_id} is {} bytes, more than NATS's max payload ({limit} bytes with \
                     room for headers)",
                    payload.len()
                );
                let msg_id = format!("{}:too_large:{io_id}", run.owner);
                self.dead_letter(
                    &run.subject,
                    &msg_id,
                    DeadLetterReason::TooLarge,
                    error,
                    kept,
                )
                .await?;
                run.dead_lettered += 1;
                run.published.insert(io_id);
                continue;
            }
            // Each order starts its own span; the transformer links its voucher to it.
            let span = tracing::info_span!("fetched order", io_id, task);
            let mut message = PublishMessage::build()
                .payload(payload.into())
                .message_id(format!("{task}:{}:{io_id}", run.label))
                .header(names::HEADER_TASK, task)
                .header(names::HEADER_WINDOW, run.window.id().as_str());
            for (key, value) in j2t_runtime::trace_headers(&span) {
                message = message.header(key.as_str(), value.as_str());
            }
            let ack = self
                .js
                .send_publish(run.subject.clone(), message)
                .await
                .with_context(|| format!("publishing order {io_id}"))?;
            run.published.insert(io_id);
            run.acks.push((io_id, ack));
            metrics::counter!("j2t_fetcher_orders_published_total", "task" => task.to_string())
                .increment(1);
            if run.acks.len() >= self.settings.max_in_flight {
                self.flush(run).await?;
            }
        }
        Ok(())
    }

    /// The largest message the server takes.
    fn max_payload(&self) -> usize {
        self.js.client().server_info().max_payload
    }

    /// One page, retried on transient failures (network, 5xx, throttling) with backoff until
    /// it succeeds: a page is never skipped.
    async fn fetch_page(&self, query: &OutboundQuery) -> Result<OutboundPage, JstError> {
        let task = self.task.name.as_str();
        let unreadable = std::sync::atomic::AtomicU32::new(0);
        let page_attempts = self.settings.page_attempts;
        let page = (|| self.jst.query_outbound(query))
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_secs(1))
                    .with_max_delay(Duration::from_secs(60))
                    .with_jitter()
                    .without_max_times(),
            )
            // An unreadable answer may be a glitch: tried `page_attempts` times in all.
            .when(|error| {
                error.is_transient()
                    || (matches!(error, JstError::Decode { .. })
                        && unreadable.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
                            < page_attempts)
            })
            .notify(|error, delay| {
                let reason = match error {
                    JstError::Decode { .. } => "unreadable",
                    _ if error.api_code() == Some(ApiCode::Throttled) => "throttled",
                    _ => "transient",
                };
                metrics::counter!("j2t_fetcher_retries_total", "task" => task.to_string(), "reason" => reason).increment(1);
                tracing::warn!(%error, reason, ?delay, task, "JST page failed; retrying the same page");
            })
            .await?;
        metrics::counter!("j2t_fetcher_pages_total", "task" => task.to_string()).increment(1);
        Ok(page)
    }

    /// An order that cannot go on (no io_id, unreadable, too large): park it for a person.
    async fn dead_letter(
        &self,
        subject: &str,
        msg_id: &str,
        reason: DeadLetterReason,
        error: String,
        payload: Value,
    ) -> anyhow::Result<()> {
        let letter =
            DeadLetter::first_attempt(Stage::Fetcher, reason, error, subject.to_string(), payload);
        j2t_stores::publish_dead_letter(&self.js, &letter, msg_id).await?;
        Ok(())
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// A stable tag for a text (SipHash with fixed keys): the same text, the same message id.
fn hash_of(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}
