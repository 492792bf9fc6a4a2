use std::collections::HashMap;

use anyhow::Context;
use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use j2t_domain::{DeadLetter, DeadLetterReason, Stage, WindowClosed, io_id_of};
use j2t_mapping::{Mapping, map_orders};
use j2t_stores::{Claim, Lineage};
use j2t_topology::names;
use serde_json::Value;

/// What merging one window produced.
#[derive(Debug)]
pub struct WindowOutcome {
    pub window: String,
    pub orders: usize,
    pub vouchers: usize,
    pub rejected: usize,
    /// Orders skipped because a voucher from another window already holds them.
    pub already_merged: usize,
    /// Orders and lines the mapping's conditions left out (not errors).
    pub skipped_orders: usize,
    pub skipped_lines: usize,
}

/// Merges one closed window: reads its orders, publishes vouchers and dead letters, and
/// returns once all are stored. Safe to repeat.
pub async fn process_window(
    js: &jetstream::Context,
    lineage: &Lineage,
    mapping: &Mapping,
    event: &[u8],
    event_seq: u64,
) -> anyhow::Result<WindowOutcome> {
    let closed: WindowClosed = match serde_json::from_slice(event) {
        Ok(closed) => closed,
        Err(error) => {
            // Not ours to fix: keep it for a person and move on.
            let letter = dead_letter(
                DeadLetterReason::BadEvent,
                error.to_string(),
                names::windows_subject("unknown"),
                raw(event),
            );
            j2t_stores::publish_dead_letter(js, &letter, &format!("bad_event:{event_seq}")).await?;
            return Ok(WindowOutcome {
                window: "unreadable".into(),
                orders: 0,
                vouchers: 0,
                rejected: 1,
                already_merged: 0,
                skipped_orders: 0,
                skipped_lines: 0,
            });
        }
    };
    let window = closed.window.id();
    let (orders, unreadable, traces) = read_orders(js, &closed.orders_subject).await?;
    for (seq, body) in &unreadable {
        let letter = dead_letter(
            DeadLetterReason::BadJson,
            "raw order is not JSON".into(),
            closed.orders_subject.clone(),
            raw(body),
        );
        j2t_stores::publish_dead_letter(js, &letter, &format!("bad_json:{window}:{seq}")).await?;
    }
    let count = orders.len();
    // An order already merged from another window (the fetcher's guard failed, or a
    // replay) is not merged twice.
    let ids: Vec<i64> = orders.iter().filter_map(io_id_of).collect();
    let held = lineage.claims(&ids).await?;
    let (orders, elsewhere): (Vec<Value>, Vec<Value>) = orders.into_iter().partition(|o| {
        io_id_of(o)
            .and_then(|id| held.get(&id))
            .is_none_or(|claim| claim.orders_subject == closed.orders_subject)
    });
    for order in &elsewhere {
        tracing::warn!(io_id = ?io_id_of(order), "order already merged from another window; skipped");
    }
    let out = map_orders(mapping, orders, &window);
    for (i, rejected) in out.rejected.iter().enumerate() {
        let mut letter = dead_letter(
            DeadLetterReason::BadOrder,
            rejected.reason.clone(),
            closed.orders_subject.clone(),
            rejected.order.clone(),
        );
        letter.trace_id = rejected
            .io_id
            .and_then(|id| j2t_runtime::trace_id(traces.get(&id)));
        let id = rejected
            .io_id
            .map_or_else(|| format!("noid{i}"), |id| id.to_string());
        j2t_stores::publish_dead_letter(js, &letter, &format!("bad_order:{window}:{id}")).await?;
        tracing::warn!(io_id = ?rejected.io_id, reason = %rejected.reason, "order dead-lettered");
    }
    // Claim every merged io_id for its voucher before anyone can see the voucher.
    let claims: Vec<(i64, Claim)> = out
        .vouchers
        .iter()
        .flat_map(|v| {
            v.io_ids.iter().map(|id| {
                let claim = Claim {
                    orders_subject: closed.orders_subject.clone(),
                    external_code: v.external_code.clone(),
                };
                (*id, claim)
            })
        })
        .collect();
    let lost = lineage.claim(&claims).await?;
    if !lost.is_empty() {
        anyhow::bail!("orders {lost:?} were merged from another window meanwhile; merging again");
    }
    // Publish every voucher, then wait for all PubAcks: only then is the window done.
    let mut acks = Vec::with_capacity(out.vouchers.len());
    for voucher in &out.vouchers {
        let payload = serde_json::to_vec(voucher)?;
        // The voucher's span starts the trace its write continues; it links to the spans of
        // the orders merged into it.
        let span = tracing::info_span!("voucher", external_code = %voucher.external_code);
        for io_id in &voucher.io_ids {
            j2t_runtime::link_to(&span, traces.get(io_id));
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
    Ok(WindowOutcome {
        window,
        orders: count,
        vouchers: out.vouchers.len(),
        rejected: out.rejected.len() + unreadable.len(),
        already_merged: elsewhere.len(),
        skipped_orders: out.skipped_orders.len(),
        skipped_lines: out.skipped_lines.len(),
    })
}

/// The raw orders of a window as stored (for `jst2tplus render --live-window`); unreadable
/// bodies are left out.
pub async fn window_orders(js: &jetstream::Context, subject: &str) -> anyhow::Result<Vec<Value>> {
    Ok(read_orders(js, subject).await?.0)
}

/// Orders' message headers (their trace context) by io_id.
type Traces = HashMap<i64, async_nats::HeaderMap>;

/// Every raw order stored on `subject` so far (a consistent snapshot: the window was closed
/// after its last order was stored). Unparseable bodies come back separately by sequence.
async fn read_orders(
    js: &jetstream::Context,
    subject: &str,
) -> anyhow::Result<(Vec<Value>, Vec<(u64, Vec<u8>)>, Traces)> {
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
    let mut orders = Vec::with_capacity(total as usize);
    let mut unreadable = Vec::new();
    let mut traces = Traces::new();
    if total == 0 {
        return Ok((orders, unreadable, traces));
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
                    traces.insert(io_id, headers.clone());
                }
                orders.push(order);
            }
            Err(_) => unreadable.push((
                msg.info().map(|i| i.stream_sequence).unwrap_or(seen),
                msg.payload.to_vec(),
            )),
        }
    }
    Ok((orders, unreadable, traces))
}

fn dead_letter(
    reason: DeadLetterReason,
    error: String,
    original_subject: String,
    payload: Value,
) -> DeadLetter {
    DeadLetter::first_attempt(Stage::Transformer, reason, error, original_subject, payload)
}

/// A body as JSON if it is JSON, else as text.
fn raw(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}
