use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::message::PublishMessage;
use backon::{ExponentialBuilder, Retryable};
use chrono::{NaiveDateTime, Utc};
use j2t_config::{Config, FetcherConfig};
use j2t_domain::{DeadLetter, Stage, Window, WindowClosed, io_id_of};
use j2t_jst::{ApiCode, JstClient, JstError, OutboundQuery};
use j2t_topology::{Topology, names};
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::cursor::{CursorState, CursorStore};
use crate::windows::next_window;

/// What one completed window amounted to.
#[derive(Debug)]
pub struct WindowReport {
    pub window: Window,
    pub pages: u32,
    pub orders: u64,
}

pub struct Fetcher {
    cfg: FetcherConfig,
    utc_offset: chrono::Duration,
    jst: JstClient,
    topology: Topology,
    cursor: CursorStore,
    /// Spaces JST requests so one fetcher stays under the app's rate limits.
    pace: Interval,
}

impl Fetcher {
    pub fn new(cfg: &Config, jst: JstClient, topology: Topology) -> Self {
        let mut pace = tokio::time::interval(Duration::from_millis(
            cfg.fetcher.min_request_interval_ms.max(1),
        ));
        pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            cursor: CursorStore::new(topology.cursors.clone(), &cfg.fetcher.task),
            cfg: cfg.fetcher.clone(),
            utc_offset: chrono::Duration::minutes(cfg.jst.utc_offset_minutes.into()),
            jst,
            topology,
            pace,
        }
    }

    fn now_local(&self) -> NaiveDateTime {
        Utc::now().naive_utc() + self.utc_offset
    }

    fn initial_start(&self) -> NaiveDateTime {
        self.cfg
            .start_time
            .as_deref()
            .and_then(|s| NaiveDateTime::parse_from_str(s, j2t_domain::JST_TIME_FORMAT).ok())
            .unwrap_or_else(|| {
                self.now_local() - chrono::Duration::seconds(self.cfg.initial_lookback_secs as i64)
            })
    }

    /// Syncs one window if one is due. `Ok(None)`: caught up, or asked to stop.
    pub async fn step(
        &mut self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<WindowReport>> {
        let mut state = match self.cursor.load().await? {
            Some(state) => state,
            None => CursorState {
                next_start: self.initial_start(),
                pending: None,
            },
        };
        let window = match state.pending {
            Some(window) => window,
            None => {
                let horizon =
                    self.now_local() - chrono::Duration::seconds(self.cfg.lag_secs as i64);
                let max_len = chrono::Duration::seconds(self.cfg.window_secs as i64);
                let Some(window) = next_window(state.next_start, horizon, max_len) else {
                    return Ok(None);
                };
                state.pending = Some(window);
                // Recorded before fetching, so a crash resumes this very window.
                self.cursor.save(&state).await?;
                window
            }
        };
        let Some((pages, orders)) = self.fetch_window(&window, shutdown).await? else {
            return Ok(None);
        };
        let closed = WindowClosed {
            task: self.cfg.task.clone(),
            window,
            orders_subject: names::orders_subject(&self.cfg.task, &window.id()),
            orders,
        };
        j2t_topology::publish_json(
            &self.topology.js,
            &names::windows_subject(&self.cfg.task),
            &format!("{}:{}", self.cfg.task, window.id()),
            &closed,
        )
        .await?;
        state.next_start = window.end + chrono::Duration::seconds(1);
        state.pending = None;
        self.cursor.save(&state).await?;
        Ok(Some(WindowReport {
            window,
            pages,
            orders,
        }))
    }

    fn query(&self, window: &Window, page_index: u32) -> OutboundQuery {
        let fmt = |t: NaiveDateTime| t.format(j2t_domain::JST_TIME_FORMAT).to_string();
        OutboundQuery {
            shop_id: self.cfg.shop_id,
            is_offline_shop: self.cfg.is_offline_shop,
            status: Some(self.cfg.status.clone()).filter(|s| !s.is_empty()),
            modified_begin: Some(fmt(window.start)),
            modified_end: Some(fmt(window.end)),
            date_type: Some(self.cfg.date_type),
            page_index,
            page_size: self.cfg.page_size,
            so_ids: None,
            wms_co_id: self.cfg.wms_co_id,
        }
    }

    /// Reads every page of `window` and publishes its orders; returns once every PubAck is in.
    /// `Ok(None)` if asked to stop first (the window stays pending).
    async fn fetch_window(
        &mut self,
        window: &Window,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<(u32, u64)>> {
        let subject = names::orders_subject(&self.cfg.task, &window.id());
        let mut acks = Vec::new();
        let mut page_index = 1;
        loop {
            let query = self.query(window, page_index);
            let page = tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                page = self.fetch_page(&query) => page?,
            };
            for (position, order) in page.datas.into_iter().enumerate() {
                let Some(io_id) = io_id_of(&order) else {
                    let msg_id =
                        format!("{}:{}:{page_index}:{position}", self.cfg.task, window.id());
                    self.dead_letter(&subject, &msg_id, order).await?;
                    continue;
                };
                let payload = serde_json::to_vec(&order)?;
                let ack = self
                    .topology
                    .js
                    .send_publish(
                        subject.clone(),
                        PublishMessage::build()
                            .payload(payload.into())
                            .message_id(format!("{}:{}:{io_id}", self.cfg.task, window.id()))
                            .header(names::HEADER_TASK, self.cfg.task.as_str())
                            .header(names::HEADER_WINDOW, window.id().as_str()),
                    )
                    .await
                    .with_context(|| format!("publishing order {io_id}"))?;
                acks.push((io_id, ack));
            }
            if !page.has_next {
                break;
            }
            page_index += 1;
        }
        let orders = acks.len() as u64;
        for (io_id, ack) in acks {
            ack.await
                .with_context(|| format!("no PubAck for order {io_id}"))?;
        }
        Ok(Some((page_index, orders)))
    }

    /// One page, retried on transient failures (network, 5xx, throttling) with backoff:
    /// a page is never skipped.
    async fn fetch_page(
        &mut self,
        query: &OutboundQuery,
    ) -> Result<j2t_jst::OutboundPage, JstError> {
        let jst = self.jst.clone();
        let pace = &mut self.pace;
        let attempt = || {
            let jst = jst.clone();
            async move { jst.query_outbound(query).await }
        };
        pace.tick().await;
        attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_secs(1))
                    .with_max_delay(Duration::from_secs(60))
                    .with_jitter()
                    .without_max_times(),
            )
            .when(JstError::is_transient)
            .notify(|error, delay| {
                let throttled = error.api_code() == Some(ApiCode::Throttled);
                tracing::warn!(%error, throttled, ?delay, page = query.page_index, "JST page failed; retrying");
            })
            .await
    }

    /// An order without an io_id cannot be deduplicated or traced: park it for a person.
    async fn dead_letter(
        &self,
        subject: &str,
        msg_id: &str,
        order: serde_json::Value,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let letter = DeadLetter {
            stage: Stage::Fetcher,
            reason: "bad_order".into(),
            error: "order has no usable io_id".into(),
            original_subject: subject.to_string(),
            attempts: 1,
            first_failure: now,
            last_failure: now,
            payload: order,
        };
        j2t_topology::publish_dead_letter(&self.topology.js, &letter, msg_id).await?;
        tracing::warn!(subject, "order without io_id dead-lettered");
        Ok(())
    }
}
