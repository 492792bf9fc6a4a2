use anyhow::Context;
use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use j2t_domain::{DeadLetterReason, WindowClosed, io_id_of};
use j2t_mapping::Mapping;
use j2t_stores::Lineage;
use j2t_topology::names;
use serde_json::Value;

use crate::master_data::{CodePaths, MasterData};
use crate::plan::{WindowOrders, WindowOutcome, dead_letter, plan_window, raw};
use crate::screen::{Screening, screen};

/// The master-data check a window goes through (`transformer.check_master_data`).
pub struct Check<'a> {
    pub master: &'a MasterData,
    pub paths: &'a CodePaths,
}

/// Merges one closed window: reads its orders and their lineage claims, plans the window
/// (`plan`), then stores dead letters, claims and vouchers, and returns once all are stored.
/// Safe to repeat.
#[allow(clippy::too_many_arguments)]
pub async fn process_window(
    js: &jetstream::Context,
    lineage: &Lineage,
    written: &j2t_stores::WrittenOrders,
    mapping: &Mapping,
    event: &[u8],
    event_seq: u64,
    max_orders: u64,
    check: Option<&Check<'_>>,
) -> anyhow::Result<WindowOutcome> {
    let closed: WindowClosed = match serde_json::from_slice(event) {
        Ok(closed) => closed,
        Err(error) => {
            // Not ours to fix: keep it for a person and move on.
            let subject = names::windows_subject("unknown");
            let letter = dead_letter(
                DeadLetterReason::BadEvent,
                error.to_string(),
                &subject,
                raw(event),
            );
            j2t_stores::publish_dead_letter(js, &letter, &format!("bad_event:{event_seq}")).await?;
            return Ok(WindowOutcome::rejected_whole("unreadable".into()));
        }
    };
    let read = match read_orders(js, &closed.orders_subject, max_orders).await? {
        Ok(read) => read,
        Err(too_many) => {
            // The whole window is the merge scope and is held in memory: refuse, visibly.
            let letter = dead_letter(
                DeadLetterReason::WindowFailed,
                too_many.to_string(),
                &names::windows_subject(&closed.task),
                serde_json::to_value(&closed)?,
            );
            let msg_id = format!("too_many:{}:{}", closed.task, closed.window.id());
            j2t_stores::publish_dead_letter(js, &letter, &msg_id).await?;
            return Ok(WindowOutcome::rejected_whole(closed.window.id()));
        }
    };
    let ids: Vec<i64> = read.orders.iter().filter_map(io_id_of).collect();
    let held = lineage.claims(&ids).await?;
    let screening = match check {
        Some(check) => screen_window(mapping, &closed, &read.orders, check).await,
        None => None,
    };
    // Each order's own lines, kept per io_id for the corrections (`j2t_written`).
    let lines = crate::lines::lines_by_io_id(mapping, &read.orders);
    let plan = plan_window(mapping, &closed, read, &held, screening.as_ref());
    for (msg_id, letter) in &plan.dead_letters {
        j2t_stores::publish_dead_letter(js, letter, msg_id).await?;
    }
    // Claim every merged io_id for its voucher before anyone can see the voucher.
    let lost = lineage.claim(&plan.claims).await?;
    if !lost.is_empty() {
        anyhow::bail!("orders {lost:?} were merged from another window meanwhile; merging again");
    }
    // What each claimed order brings to its voucher, before the voucher is visible: a change
    // seen later is measured against it. A record already there (corrected since) is kept.
    let records = crate::lines::written_records(&plan.claims, &lines);
    written.create_all(&records).await?;
    // Publish every voucher, then wait for all PubAcks: only then is the window done.
    let mut acks = Vec::with_capacity(plan.vouchers.len());
    for voucher in &plan.vouchers {
        let payload = serde_json::to_vec(voucher)?;
        // The voucher's span starts the trace its write continues; it links to the spans of
        // the orders merged into it.
        let span = tracing::info_span!("voucher", external_code = %voucher.external_code);
        for io_id in &voucher.io_ids {
            j2t_runtime::link_to(&span, plan.traces.get(io_id));
        }
        let mut message = jetstream::message::PublishMessage::build()
            .payload(payload.into())
            .message_id(&voucher.external_code);
        for (key, value) in j2t_runtime::trace_headers(&span) {
            message = message.header(key.as_str(), value.as_str());
        }
        let ack = js
            .send_publish(names::VOUCHERS_SUBJECT, message)
            .await
            .with_context(|| format!("publishing voucher {}", voucher.external_code))?;
        acks.push((voucher.external_code.as_str(), ack));
    }
    for (code, ack) in acks {
        ack.await
            .with_context(|| format!("no PubAck for voucher {code}"))?;
    }
    Ok(plan.outcome)
}

/// Checks the window's orders against the cached master data, reading it again once when
/// some order names a code the copy lacks. `None` when there is no copy to check against
/// (T+ not read since start): the window is merged unchecked, as without the check.
async fn screen_window(
    mapping: &Mapping,
    closed: &WindowClosed,
    orders: &[Value],
    check: &Check<'_>,
) -> Option<Screening> {
    let window = closed.window.id();
    let Some(known) = check.master.for_window().await else {
        tracing::warn!(%window, "no copy of T+ master data yet; window merged unchecked");
        metrics::counter!("j2t_transformer_unchecked_windows_total").increment(1);
        return None;
    };
    let mut screening = screen(mapping, &window, orders, &known, check.paths);
    if screening.any_unknown()
        && let Some(newer) = check.master.after_miss().await
    {
        screening.recheck(&newer);
    }
    Some(screening)
}

/// The raw orders of a window as stored (for `jst2tplus render --live-window`); unreadable
/// bodies are left out.
pub async fn window_orders(js: &jetstream::Context, subject: &str) -> anyhow::Result<Vec<Value>> {
    Ok(read_orders(js, subject, u64::MAX).await??.orders)
}

/// A window holding more orders than `transformer.max_window_orders`.
#[derive(Debug, thiserror::Error)]
#[error(
    "window {subject} holds {orders} orders, more than transformer.max_window_orders ({max}); \
     raise it (memory permitting) or sync shorter windows (fetcher.window_secs), then replay"
)]
pub struct TooManyOrders {
    pub subject: String,
    pub orders: u64,
    pub max: u64,
}

/// Every raw order stored on `subject` so far (a consistent snapshot: the window was closed
/// after its last order was stored). Unparseable bodies come back separately by sequence.
/// A window is merged as a whole, so it is held in memory: one with more than `max_orders`
/// orders is not read at all.
async fn read_orders(
    js: &jetstream::Context,
    subject: &str,
    max_orders: u64,
) -> anyhow::Result<Result<WindowOrders, TooManyOrders>> {
    let stream = js.get_stream(names::ORDERS_STREAM).await?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: subject.to_string(),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .with_context(|| format!("reading {subject}"))?;
    let total = consumer.cached_info().num_pending;
    if total > max_orders {
        return Ok(Err(TooManyOrders {
            subject: subject.to_string(),
            orders: total,
            max: max_orders,
        }));
    }
    let mut read = WindowOrders {
        orders: Vec::with_capacity(total as usize),
        ..Default::default()
    };
    if total == 0 {
        return Ok(Ok(read));
    }
    let mut messages = consumer.messages().await?;
    let mut seen = 0;
    while seen < total {
        let msg = messages
            .next()
            .await
            .context("order stream ended early")??;
        seen += 1;
        match serde_json::from_slice::<Value>(&msg.payload) {
            Ok(order) => {
                if let (Some(io_id), Some(headers)) = (io_id_of(&order), &msg.headers) {
                    read.traces.insert(io_id, headers.clone());
                }
                read.orders.push(order);
            }
            Err(_) => read.unreadable.push((
                msg.info().map(|i| i.stream_sequence).unwrap_or(seen),
                msg.payload.to_vec(),
            )),
        }
    }
    Ok(Ok(read))
}
