//! Re-check of closed windows: each task reads its recent past again (`fetcher.recheck_days`,
//! a pass every `fetcher.recheck_interval_secs`) for orders JST showed only after their window
//! was read (a late commit, an offline order typed in the next morning). Shipped orders no
//! window synced yet (`j2t_seen`) are published under a subject of their own and closed as a
//! window of their own, so the transformer merges them into one more voucher for their day;
//! everything else is skipped by the normal path (seen, lineage).
//!
//! Spare budget only: a re-check request waits until the task's live sync is caught up
//! ([`Gate`]), then for a slot of the re-checks' own schedule (`recheck_share_percent` of the
//! minute, shared by every task and replica in KV), then, like every request, for a slot of
//! the app's schedule. So the live sync waits at most for one re-check request, the re-checks
//! never take more than their share, and the app's limits hold whatever runs.
//!
//! Crash safety: the pass's progress is kept in the cursors bucket (`recheck.<task>`), the
//! window being read is written before it is read, and its label (window id + the pass's
//! start) names its subject and message ids, so a restart reads the same window under the
//! same label and JetStream drops the repeats.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Utc};
use j2t_domain::Window;
use j2t_jst::RateLimiter;
use j2t_topology::names;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cursor::CursorState;
use crate::sync::{TaskSync, WindowReport};
use crate::windows::next_window;

/// What a re-check request waits for before it may go.
#[derive(Clone)]
pub struct Gate {
    /// The re-checks' share of the minute (their own KV schedule).
    share: Arc<dyn RateLimiter>,
    /// `true` while the task's live sync is caught up; `None`: no live sync to wait for
    /// (`jst2tplus resync`, which runs beside the fetcher and only takes the share).
    live_idle: Option<watch::Receiver<bool>>,
}

impl Gate {
    pub fn new(share: Arc<dyn RateLimiter>, live_idle: Option<watch::Receiver<bool>>) -> Self {
        Self { share, live_idle }
    }

    /// The share limiter of `cfg`'s JST app: `recheck_share_percent` of `requests_per_minute`
    /// (at least one a minute), in its own KV schedule.
    pub fn share_limiter(
        cfg: &j2t_config::Config,
        topology: &j2t_topology::Topology,
    ) -> Arc<dyn RateLimiter> {
        let (per_second, per_minute) = share_limits(
            cfg.fetcher.requests_per_second,
            cfg.fetcher.requests_per_minute,
            cfg.fetcher.recheck_share_percent,
        );
        Arc::new(j2t_stores::KvRateLimiter::with_margin(
            topology.rate.clone(),
            names::jst_recheck_rate_key(&cfg.jst.app_key),
            per_second,
            per_minute,
            cfg.fetcher.rate_margin_percent,
        ))
    }

    /// Waits until the live sync is caught up and a slot of the share is free.
    pub async fn admit(&self) -> anyhow::Result<()> {
        self.wait_idle().await?;
        self.share
            .admit()
            .await
            .map_err(|e| anyhow::anyhow!("re-check rate-limit schedule: {e}"))?;
        // The live sync may have woken while we waited for the slot: it goes first.
        self.wait_idle().await
    }

    async fn wait_idle(&self) -> anyhow::Result<()> {
        if let Some(idle) = &self.live_idle {
            idle.clone()
                .wait_for(|idle| *idle)
                .await
                .context("the live sync stopped")?;
        }
        Ok(())
    }
}

/// The re-checks' limits: `percent` of the minute, and of the second (each at least 1).
pub fn share_limits(per_second: u32, per_minute: u32, percent: u8) -> (u32, u32) {
    let share = |limit: u32| (u64::from(limit) * u64::from(percent) / 100).max(1) as u32;
    (share(per_second), share(per_minute))
}

/// One task's re-check progress (`recheck.<task>` in the cursors bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecheckState {
    /// When the current (or last) pass started; the next starts `recheck_interval_secs` later.
    pub started_at: DateTime<Utc>,
    /// The pass reads up to here: what the live sync had closed when the pass started.
    #[serde(with = "j2t_domain::jst_time")]
    pub until: NaiveDateTime,
    /// The next window of the pass starts here.
    #[serde(with = "j2t_domain::jst_time")]
    pub next_start: NaiveDateTime,
    pub done: bool,
}

/// The schedule of the re-check.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub days: u32,
    pub interval: chrono::Duration,
    /// Re-check window length: one day, whatever `fetcher.window_secs` (short live windows
    /// would cost at least one request per window and status; a day is one query range,
    /// split only as its orders require, and the transformer merges per day anyway).
    pub window: chrono::Duration,
}

impl Schedule {
    pub fn of(fetcher: &j2t_config::FetcherConfig) -> Self {
        Self {
            days: fetcher.recheck_days,
            interval: chrono::Duration::seconds(fetcher.recheck_interval_secs as i64),
            window: chrono::Duration::days(1),
        }
    }
}

/// The pass to work on now: the unfinished one, or a new one once `interval` has passed since
/// the last started (covering the last `days` calendar days up to what the live sync closed,
/// `live_next_start` excluded). `None`: nothing to do now.
pub fn plan(
    state: Option<&RecheckState>,
    now: DateTime<Utc>,
    live_next_start: NaiveDateTime,
    schedule: &Schedule,
) -> Option<RecheckState> {
    if schedule.days == 0 {
        return None;
    }
    match state {
        Some(s) if !s.done => return Some(s.clone()),
        Some(s) if now < s.started_at + schedule.interval => return None,
        _ => {}
    }
    let until = live_next_start - chrono::Duration::seconds(1);
    let first_day = until.date() - Days::new(u64::from(schedule.days - 1));
    let start = first_day.and_hms_opt(0, 0, 0)?;
    Some(RecheckState {
        started_at: now,
        until,
        next_start: start,
        done: start > until,
    })
}

/// The next window of a pass (`None` once it is done).
pub fn next_chunk(state: &RecheckState, schedule: &Schedule) -> Option<Window> {
    if state.done {
        return None;
    }
    next_window(state.next_start, state.until, schedule.window)
}

/// The pass after `window` was read.
pub fn advance(state: &RecheckState, window: Window) -> RecheckState {
    let next_start = window.end + chrono::Duration::seconds(1);
    RecheckState {
        next_start,
        done: next_start > state.until,
        ..state.clone()
    }
}

/// The label (subject token) of a re-check read of `window` by the pass started at `started`.
pub fn label(window: Window, started: DateTime<Utc>) -> String {
    names::recheck_window_label(&window.id(), started.timestamp())
}

impl TaskSync {
    /// Waits at the re-check's gate (see [`Gate`]).
    pub(crate) async fn recheck_admit(&self) -> anyhow::Result<()> {
        self.recheck_gate
            .as_ref()
            .context("a re-check read without a gate")?
            .admit()
            .await
    }

    async fn load_recheck(&self) -> anyhow::Result<Option<RecheckState>> {
        let key = names::recheck_key(&self.task.name);
        let Some(value) = self.cursor.kv().get(&key).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&value).ok())
    }

    async fn save_recheck(&self, state: &RecheckState) -> anyhow::Result<()> {
        let key = names::recheck_key(&self.task.name);
        self.cursor
            .kv()
            .put(&key, serde_json::to_vec(state)?.into())
            .await
            .with_context(|| format!("writing re-check progress {key}"))?;
        Ok(())
    }

    /// Where the live sync stands (`None`: it has not started).
    pub(crate) async fn live_next_start(&self) -> anyhow::Result<Option<NaiveDateTime>> {
        let Some(value) = self.cursor.kv().get(&self.task.name).await? else {
            return Ok(None);
        };
        let state: CursorState = serde_json::from_slice(&value)
            .with_context(|| format!("cursor {} is unreadable", self.task.name))?;
        Ok(Some(state.next_start))
    }

    /// Reads one window of the due re-check pass, if any. `Ok(None)`: nothing due (or
    /// stopped).
    pub async fn recheck_step(
        &self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<WindowReport>> {
        let schedule = Schedule::of(&self.settings);
        let Some(live) = self.live_next_start().await? else {
            return Ok(None);
        };
        let stored = self.load_recheck().await?;
        let Some(state) = plan(stored.as_ref(), Utc::now(), live, &schedule) else {
            return Ok(None);
        };
        if stored.as_ref() != Some(&state) {
            tracing::info!(task = %self.task.name, from = %state.next_start, until = %state.until, "re-check pass starts");
            self.save_recheck(&state).await?;
        }
        let Some(window) = next_chunk(&state, &schedule) else {
            self.finish_pass(&state).await?;
            return Ok(None);
        };
        let Some(report) = self
            .recheck_window(window, label(window, state.started_at), shutdown)
            .await?
        else {
            return Ok(None);
        };
        let next = advance(&state, window);
        if next.done {
            self.finish_pass(&next).await?;
        } else {
            self.save_recheck(&next).await?;
        }
        Ok(Some(report))
    }

    async fn finish_pass(&self, state: &RecheckState) -> anyhow::Result<()> {
        let done = RecheckState {
            done: true,
            ..state.clone()
        };
        self.save_recheck(&done).await?;
        metrics::counter!("j2t_fetcher_recheck_passes_total", "task" => self.task.name.clone())
            .increment(1);
        tracing::info!(task = %self.task.name, until = %state.until, "re-check pass done");
        Ok(())
    }

    /// `jst2tplus resync`: reads the days `from..=to` again now through the re-check path,
    /// window by window, up to what the live sync has closed (later days are the live sync's).
    /// Calls `progress` after each window. Orders already synced are not published again.
    pub async fn resync(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        shutdown: &CancellationToken,
        mut progress: impl FnMut(&WindowReport),
    ) -> anyhow::Result<ResyncSummary> {
        let live = self.live_next_start().await?;
        let Some(live) = live else {
            anyhow::bail!(
                "task {} has not synced anything yet (no cursor): nothing to re-read",
                self.task.name
            );
        };
        let until = to
            .and_hms_opt(23, 59, 59)
            .context("end of day")?
            .min(live - chrono::Duration::seconds(1));
        let mut start = from.and_hms_opt(0, 0, 0).context("start of day")?;
        let pass = Utc::now();
        let window_len = Schedule::of(&self.settings).window;
        let mut summary = ResyncSummary {
            until,
            ..ResyncSummary::default()
        };
        while let Some(window) = next_window(start, until, window_len) {
            let Some(report) = self
                .recheck_window(window, label(window, pass), shutdown)
                .await?
            else {
                anyhow::bail!("stopped");
            };
            summary.windows += 1;
            summary.pages += u64::from(report.pages);
            summary.published += report.orders;
            summary.already_synced += report.already_synced;
            progress(&report);
            start = window.end + chrono::Duration::seconds(1);
        }
        Ok(summary)
    }
}

/// What a resync amounted to.
#[derive(Debug, Default, Clone, Copy)]
pub struct ResyncSummary {
    /// The resync read up to here (the end of `to`, or what the live sync had closed).
    pub until: NaiveDateTime,
    pub windows: u64,
    pub pages: u64,
    /// Orders not synced before, now published.
    pub published: u64,
    pub already_synced: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, j2t_domain::JST_TIME_FORMAT).expect("valid")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn schedule(days: u32) -> Schedule {
        Schedule {
            days,
            interval: chrono::Duration::hours(1),
            window: chrono::Duration::days(1),
        }
    }

    #[test]
    fn a_pass_covers_the_last_days_up_to_the_live_cursor_then_waits_for_the_interval() {
        let now = utc("2026-11-27T04:00:00Z");
        let live = t("2026-11-27 11:58:00");
        let pass = plan(None, now, live, &schedule(2)).expect("a pass");
        assert_eq!(
            (pass.next_start, pass.until, pass.done),
            (t("2026-11-26 00:00:00"), t("2026-11-27 11:57:59"), false)
        );
        let first = next_chunk(&pass, &schedule(2)).expect("window");
        assert_eq!(
            (first.start, first.end),
            (t("2026-11-26 00:00:00"), t("2026-11-26 23:59:59"))
        );
        let pass = advance(&pass, first);
        assert_eq!(
            plan(Some(&pass), now, live, &schedule(2)),
            Some(pass.clone()),
            "unfinished: resumed"
        );
        let second = next_chunk(&pass, &schedule(2)).expect("window");
        assert_eq!(
            second.end,
            t("2026-11-27 11:57:59"),
            "stops at the live cursor"
        );
        let pass = advance(&pass, second);
        assert!(pass.done);
        assert_eq!(next_chunk(&pass, &schedule(2)), None);
        let later = utc("2026-11-27T04:59:59Z");
        assert_eq!(
            plan(Some(&pass), later, live, &schedule(2)),
            None,
            "interval not over"
        );
        let next = plan(
            Some(&pass),
            utc("2026-11-27T05:00:00Z"),
            t("2026-11-27 12:58:00"),
            &schedule(2),
        )
        .expect("next pass");
        assert_eq!(next.next_start, t("2026-11-26 00:00:00"));
        assert_eq!(next.until, t("2026-11-27 12:57:59"));
    }

    #[test]
    fn zero_days_switches_it_off() {
        assert_eq!(
            plan(
                None,
                utc("2026-11-27T04:00:00Z"),
                t("2026-11-27 11:58:00"),
                &schedule(0)
            ),
            None
        );
    }

    #[test]
    fn labels_name_the_window_and_the_pass_and_strip_back_to_the_window() {
        let window = Window {
            start: t("2026-11-26 00:00:00"),
            end: t("2026-11-26 23:59:59"),
        };
        let label = label(window, utc("2026-11-27T04:00:00Z"));
        assert_eq!(label, "20261126000000-20261126235959_recheck1795752000");
        assert_eq!(names::replayed_window_id(&label), window.id());
    }

    #[test]
    fn the_share_is_a_percentage_of_each_limit_and_at_least_one() {
        assert_eq!(share_limits(5, 100, 20), (1, 20));
        assert_eq!(share_limits(5, 100, 50), (2, 50));
        assert_eq!(share_limits(5, 100, 0), (1, 1));
        assert_eq!(share_limits(5, 100, 100), (5, 100));
    }
}
