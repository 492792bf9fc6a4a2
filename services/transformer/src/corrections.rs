//! Orders JST changed after their voucher was written (events from the fetcher's change
//! scan, `J2T_CHANGES`): the difference per (date, warehouse, SKU) against the lines
//! recorded in `j2t_written`, then `corrections.policy`: `report` (a dead letter
//! `changed_after_write`, which the monitor alerts on) or `reverse` (correction vouchers from
//! the mapping's `[corrections]`, posted by the writer like any voucher).
//!
//! Handled once: the record's `seen_ts` is the newest version handled, and it is moved on
//! only after the letter or the vouchers are stored, each under an id derived from (io_id,
//! JST version) — a change redelivered, detected twice or handled by a replica that died
//! half-way gives the same letter id and the same ExternalCodes, which JetStream and T+
//! store once.

use anyhow::Context;
use async_nats::jetstream::{self, AckKind};
use chrono::Utc;
use j2t_config::CorrectionPolicy;
use j2t_domain::{
    ChangeRecord, DeadLetter, DeadLetterReason, LineDelta, OrderChanged, Stage, VoucherEnvelope,
    WrittenLine, WrittenOrder, line_deltas,
};
use j2t_mapping::{Mapping, correction_vouchers};
use j2t_stores::WrittenOrders;
use j2t_topology::names;
use serde_json::json;

/// What to do with one change event. Pure: [`decide`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Already handled (or superseded by a newer change): nothing to do.
    Skip(&'static str),
    /// JST changed something the voucher does not hold (remark, time): only recorded.
    NothingToCorrect,
    Report(Vec<LineDelta>),
    Reverse(Vec<LineDelta>),
}

/// Decides from the record, the event and the lines the changed order brings now.
pub fn decide(
    record: &WrittenOrder,
    event: &OrderChanged,
    now_lines: &[WrittenLine],
    policy: CorrectionPolicy,
) -> Decision {
    match event.replay_of {
        None if event.ts <= record.seen_ts => return Decision::Skip("already handled"),
        Some(_) if event.ts < record.seen_ts => {
            return Decision::Skip("superseded by a newer change");
        }
        _ => {}
    }
    let deltas = line_deltas(&record.lines, now_lines);
    if deltas.is_empty() {
        return Decision::NothingToCorrect;
    }
    match policy {
        CorrectionPolicy::Report => Decision::Report(deltas),
        CorrectionPolicy::Reverse => Decision::Reverse(deltas),
    }
}

/// "SKU qty A → B (date, warehouse W); …".
pub fn summary(deltas: &[LineDelta]) -> String {
    deltas
        .iter()
        .map(LineDelta::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The lines a changed order brings now: none once it left the shipped states.
pub fn lines_now(
    mapping: &Mapping,
    order: &serde_json::Value,
    shipped: &[String],
) -> Vec<WrittenLine> {
    let status = order
        .get("status")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    if shipped.iter().any(|s| s == status) {
        crate::lines::order_lines(mapping, order)
    } else {
        Vec::new()
    }
}

pub struct Corrections<'a> {
    pub js: &'a jetstream::Context,
    pub written: &'a WrittenOrders,
    pub mapping: &'a Mapping,
    pub policy: CorrectionPolicy,
    /// Each sync task's shipped statuses (`fetcher.shipped_statuses`).
    pub shipped: &'a std::collections::BTreeMap<String, Vec<String>>,
}

impl Corrections<'_> {
    /// Handles one change event; `Ok` means it may be acknowledged.
    pub async fn handle(&self, payload: &[u8]) -> anyhow::Result<&'static str> {
        let event: OrderChanged = match serde_json::from_slice(payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, "unreadable change event; dropped");
                return Ok("unreadable");
            }
        };
        let io_id = event.io_id;
        // A concurrent update of the same record (another replica) makes us read again.
        for _ in 0..5 {
            let Some((record, revision)) = self.written.get(io_id).await? else {
                tracing::warn!(
                    io_id,
                    "change of an order with no written lines (expired?); ignored"
                );
                return Ok("unknown");
            };
            // A task no longer configured: any task's shipped statuses.
            let shipped: Vec<String> = match self.shipped.get(&event.task) {
                Some(statuses) => statuses.clone(),
                None => self.shipped.values().flatten().cloned().collect(),
            };
            let now_lines = lines_now(self.mapping, &event.order, &shipped);
            let decision = decide(&record, &event, &now_lines, self.policy);
            let (outcome, deltas, codes) = match &decision {
                Decision::Skip(why) => {
                    tracing::info!(io_id, ts = event.ts, why, "change skipped");
                    return Ok("skipped");
                }
                Decision::NothingToCorrect => ("nothing_to_correct", Vec::new(), Vec::new()),
                Decision::Report(deltas) => {
                    self.report(&record, &event, deltas).await?;
                    ("reported", deltas.clone(), Vec::new())
                }
                Decision::Reverse(deltas) => {
                    let vouchers = correction_vouchers(
                        &self.mapping.corrections,
                        &self.mapping.target.wrapper,
                        &self.mapping.target.body_field,
                        io_id,
                        event.ts,
                        &record.external_code,
                        deltas,
                    );
                    self.publish_vouchers(&vouchers).await?;
                    let codes = vouchers.into_iter().map(|v| v.external_code).collect();
                    ("corrected", deltas.clone(), codes)
                }
            };
            let mut next = record.clone();
            next.seen_ts = next.seen_ts.max(event.ts);
            if outcome == "corrected" || outcome == "nothing_to_correct" {
                // T+ now holds what JST ships (nothing was held differently).
                next.lines = now_lines;
                next.written_ts = event.ts;
            }
            next.history.push(ChangeRecord {
                at: Utc::now(),
                ts: event.ts,
                status: event.order["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                outcome: outcome.to_string(),
                summary: summary(&deltas),
                corrections: codes,
            });
            if self.written.update(&next, revision).await? {
                tracing::info!(
                    io_id,
                    ts = event.ts,
                    outcome,
                    "change after the write handled"
                );
                metrics::counter!("j2t_transformer_changes_total", "outcome" => outcome)
                    .increment(1);
                return Ok(outcome);
            }
        }
        anyhow::bail!("the written lines of order {io_id} keep changing under us; retrying")
    }

    async fn report(
        &self,
        record: &WrittenOrder,
        event: &OrderChanged,
        deltas: &[LineDelta],
    ) -> anyhow::Result<()> {
        let error = format!(
            "order {} changed after it was written in voucher {}: {}",
            event.io_id,
            record.external_code,
            summary(deltas)
        );
        let letter = DeadLetter::first_attempt(
            Stage::Transformer,
            DeadLetterReason::ChangedAfterWrite,
            error,
            names::changes_subject(&event.task),
            json!({
                "io_id": event.io_id,
                // Not `external_code`: the letter holds the order, not the whole voucher.
                "voucher": record.external_code,
                "ts": event.ts,
                "deltas": deltas,
                "change": event,
            }),
        );
        let mut msg_id = format!("changed_after_write:{}:{}", event.io_id, event.ts);
        if let Some(replay) = event.replay_of {
            msg_id.push_str(&format!(":replay{replay}"));
        }
        j2t_stores::publish_dead_letter(self.js, &letter, &msg_id).await?;
        Ok(())
    }

    async fn publish_vouchers(&self, vouchers: &[VoucherEnvelope]) -> anyhow::Result<()> {
        let mut acks = Vec::new();
        for voucher in vouchers {
            let message = jetstream::message::PublishMessage::build()
                .payload(serde_json::to_vec(voucher)?.into())
                .message_id(&voucher.external_code);
            let ack = self
                .js
                .send_publish(names::VOUCHERS_SUBJECT, message)
                .await
                .with_context(|| format!("publishing correction {}", voucher.external_code))?;
            acks.push((voucher.external_code.as_str(), ack));
        }
        for (code, ack) in acks {
            ack.await
                .with_context(|| format!("no PubAck for correction {code}"))?;
        }
        Ok(())
    }
}

/// Consumes `J2T_CHANGES` until shutdown.
pub async fn run(
    topology: &j2t_topology::Topology,
    corrections: &Corrections<'_>,
    shutdown: &tokio_util::sync::CancellationToken,
) {
    j2t_topology::consume(|| topology.corrections_consumer(), 1, shutdown, |msg| async move {
        match corrections.handle(&msg.payload).await {
            Ok(_) => {
                if let Err(error) = msg.double_ack().await {
                    tracing::warn!(%error, "ack of a change lost; it will be handled again (idempotent)");
                }
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "change after the write failed; redelivering");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(std::time::Duration::from_secs(5))))
                    .await;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, qty: i64) -> WrittenLine {
        WrittenLine {
            date: "2026-11-25".into(),
            warehouse: "1".into(),
            sku: sku.into(),
            qty_micro: qty * 1_000_000,
            amount_micro: qty * 10_000_000,
        }
    }

    fn record(seen_ts: i64) -> WrittenOrder {
        WrittenOrder {
            io_id: 7,
            external_code: "JT1".into(),
            lines: vec![line("A", 3)],
            written_ts: 5,
            seen_ts,
            history: Vec::new(),
        }
    }

    fn event(ts: i64, replay_of: Option<u64>) -> OrderChanged {
        OrderChanged {
            task: "default".into(),
            io_id: 7,
            ts,
            order: json!({}),
            replay_of,
        }
    }

    #[test]
    fn each_change_is_handled_once_under_the_policy() {
        use CorrectionPolicy::{Report, Reverse};
        let less = [line("A", 2)];
        type Case<'a> = (
            &'a str,
            i64,
            Option<u64>,
            &'a [WrittenLine],
            CorrectionPolicy,
            &'a str,
        );
        let cases: [Case; 7] = [
            ("new change, report", 5, None, &less, Report, "report"),
            ("new change, reverse", 5, None, &less, Reverse, "reverse"),
            ("seen before", 9, None, &less, Reverse, "skip"),
            ("older than seen", 12, None, &less, Reverse, "skip"),
            ("remark only", 5, None, &[line("A", 3)], Reverse, "nothing"),
            (
                "replay of the newest",
                9,
                Some(1),
                &less,
                Reverse,
                "reverse",
            ),
            ("replay superseded", 10, Some(1), &less, Reverse, "skip"),
        ];
        for (name, seen, replay, now, policy, want) in cases {
            let got = match decide(&record(seen), &event(9, replay), now, policy) {
                Decision::Skip(_) => "skip",
                Decision::NothingToCorrect => "nothing",
                Decision::Report(_) => "report",
                Decision::Reverse(d) => {
                    assert_eq!(summary(&d), "A qty 3 → 2 (2026-11-25, warehouse 1)");
                    "reverse"
                }
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn an_order_out_of_the_shipped_states_ships_nothing() {
        let mapping = Mapping::builtin();
        let shipped = ["Confirmed".to_string(), "Archive".to_string()];
        let order = |status: &str| {
            json!({"io_id": 7, "io_date": "2026-11-25 09:00:00", "wms_co_id": 1, "status": status,
                   "items": [{"sku_id": "A", "qty": 3, "sale_amount": 30}]})
        };
        assert_eq!(lines_now(&mapping, &order("Archive"), &shipped).len(), 1);
        assert!(lines_now(&mapping, &order("Cancelled"), &shipped).is_empty());
    }
}
