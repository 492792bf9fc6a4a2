//! The process's Prometheus registry, rendered at `/metrics` on the admin endpoint, and the
//! catalogue of every metric the services emit: its name, kind, help text and (for
//! histograms) buckets. A metric name used anywhere in the workspace must be listed here (a
//! test scans the sources), so this is the one place to look names up.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency of an HTTP call to JST or T+ (seconds): from a fast LAN answer to a timeout.
const REQUEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Time spent waiting for a rate-limit slot (seconds): spacing of 0.2 s (5/s) up to a
/// minute's worth when the 100/min limit is reached.
const WAIT_BUCKETS: &[f64] = &[
    0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Any histogram without buckets of its own (there should be none: see the catalogue test).
const DEFAULT_BUCKETS: &[f64] = REQUEST_BUCKETS;

/// How often histograms are rotated and idle state cleared (what an installed exporter's
/// upkeep task would do; the recorder here is built without one).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram { buckets: &'static [f64] },
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: MetricKind,
    pub unit: Option<Unit>,
    /// Labels, in the order the call sites pass them (documentation; not enforced).
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn counter(
    name: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind: MetricKind::Counter,
        unit: None,
        labels,
        help,
    }
}

const fn gauge(
    name: &'static str,
    unit: Option<Unit>,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind: MetricKind::Gauge,
        unit,
        labels,
        help,
    }
}

const fn seconds_histogram(
    name: &'static str,
    buckets: &'static [f64],
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind: MetricKind::Histogram { buckets },
        unit: Some(Unit::Seconds),
        labels,
        help,
    }
}

/// Every metric of every service.
pub const METRICS: &[MetricDef] = &[
    // Jushuitan client (fetcher).
    counter(
        "j2t_jst_requests_total",
        &["endpoint", "code"],
        "Requests to the Jushuitan open API, by endpoint and answer code (JST code, http_<status>, transport or unreadable).",
    ),
    seconds_histogram(
        "j2t_jst_request_duration_seconds",
        REQUEST_BUCKETS,
        &["endpoint", "code"],
        "Duration of requests to the Jushuitan open API, by endpoint and answer code.",
    ),
    seconds_histogram(
        "j2t_jst_rate_limit_wait_seconds",
        WAIT_BUCKETS,
        &[],
        "Time a Jushuitan request waited for a slot of the shared rate-limit schedule.",
    ),
    counter(
        "j2t_jst_token_refreshes_total",
        &[],
        "Jushuitan access-token refreshes.",
    ),
    // Fetcher.
    counter(
        "j2t_fetcher_pages_total",
        &["task"],
        "Jushuitan result pages read, by sync task.",
    ),
    counter(
        "j2t_fetcher_change_scan_pages_total",
        &["task"],
        "JST pages read by the change scan (orders modified since the last scan), per task.",
    ),
    counter(
        "j2t_fetcher_changes_total",
        &["task"],
        "Orders found changed after their voucher was written, published to J2T_CHANGES.",
    ),
    counter(
        "j2t_fetcher_orders_published_total",
        &["task"],
        "Orders published to J2T_ORDERS (PubAck received), by sync task.",
    ),
    counter(
        "j2t_fetcher_orders_skipped_total",
        &["task", "reason"],
        "Orders fetched but not published, by sync task and reason (already_synced: published by an earlier window).",
    ),
    counter(
        "j2t_fetcher_retries_total",
        &["task", "reason"],
        "Jushuitan pages retried, by sync task and reason.",
    ),
    counter(
        "j2t_fetcher_recheck_requests_total",
        &["task"],
        "Jushuitan requests of the re-check of closed windows (and of jst2tplus resync), by sync task: its extra cost.",
    ),
    counter(
        "j2t_fetcher_recheck_orders_total",
        &["task"],
        "Shipped orders the re-check found not yet synced and published as an additional window, by sync task.",
    ),
    gauge(
        "j2t_fetcher_backfill_remaining_requests",
        None,
        &["task"],
        "JST requests a sync task still needs to catch up (estimated from the density read so far).",
    ),
    gauge(
        "j2t_fetcher_backfill_remaining_seconds",
        Some(Unit::Seconds),
        &["task"],
        "Time a sync task still needs to catch up at the rate schedule's spacing (estimated).",
    ),
    counter(
        "j2t_fetcher_recheck_passes_total",
        &["task"],
        "Re-check passes over the recent past completed, by sync task.",
    ),
    // Transformer.
    counter(
        "j2t_transformer_windows_total",
        &[],
        "Closed windows transformed.",
    ),
    counter(
        "j2t_transformer_orders_total",
        &[],
        "Orders read from closed windows.",
    ),
    counter(
        "j2t_transformer_vouchers_total",
        &[],
        "Vouchers built and published to J2T_VOUCHERS.",
    ),
    counter(
        "j2t_transformer_rejected_total",
        &[],
        "Orders the mapping could not take (dead-lettered).",
    ),
    counter(
        "j2t_transformer_skipped_total",
        &["what"],
        "Orders or order lines left out by the mapping's conditions (what: order or line).",
    ),
    counter(
        "j2t_transformer_held_total",
        &[],
        "Orders held back as dead letters because they name a code T+ lacks.",
    ),
    counter(
        "j2t_transformer_changes_total",
        &["outcome"],
        "Changes after the write handled (outcome: corrected, reported, nothing_to_correct).",
    ),
    counter(
        "j2t_transformer_master_data_reads_total",
        &["outcome"],
        "Reads of T+'s warehouse and inventory lists (outcome: ok or failed).",
    ),
    gauge(
        "j2t_transformer_master_data_codes",
        None,
        &["kind"],
        "Codes in the transformer's copy of T+'s master data (kind: warehouse or inventory).",
    ),
    counter(
        "j2t_transformer_unchecked_windows_total",
        &[],
        "Windows merged without the master-data check: no copy of T+'s master data yet.",
    ),
    // T+ client (writer).
    counter(
        "j2t_tplus_requests_total",
        &["endpoint", "status"],
        "Requests to the T+ OpenAPI, by endpoint and HTTP status (or timeout / transport).",
    ),
    seconds_histogram(
        "j2t_tplus_request_duration_seconds",
        REQUEST_BUCKETS,
        &["endpoint", "status"],
        "Duration of requests to the T+ OpenAPI, by endpoint and HTTP status.",
    ),
    counter(
        "j2t_tplus_token_refreshes_total",
        &[],
        "T+ access-token refreshes.",
    ),
    counter(
        "j2t_tplus_lookup_calls_total",
        &["kind"],
        "FindVoucherList calls of the T+ voucher index (kind: incremental, rescan, filter).",
    ),
    gauge(
        "j2t_tplus_index_rows",
        None,
        &[],
        "Vouchers in the T+ voucher index after its last refresh.",
    ),
    // Writer.
    counter(
        "j2t_writer_vouchers_total",
        &["outcome"],
        "Vouchers the writer finished with, by outcome (created, already_exists, confirmed, dead_lettered).",
    ),
    counter(
        "j2t_writer_audits_total",
        &["result"],
        "Vouchers audited (审核) after T+ had them (writer.audit), by result (audited, failed: dead-lettered as audit_failed).",
    ),
    counter(
        "j2t_writer_lookups_total",
        &["result"],
        "ExternalCode lookups in T+ after an ambiguous failure or an unrecognised rejection, by result (found, missing, failed).",
    ),
    counter(
        "j2t_writer_retries_total",
        &[],
        "Vouchers handed back to JetStream for a later retry (NAK with delay).",
    ),
    counter(
        "j2t_writer_quota_pauses_total",
        &[],
        "Times T+ answered quota exhausted (50112) and the writer held a voucher.",
    ),
    counter(
        "j2t_writer_tplus_outages_total",
        &[],
        "Times this writer replica took T+ to be down (transient failures in a row or a Retry-After) and began holding vouchers.",
    ),
    gauge(
        "j2t_writer_tplus_down",
        None,
        &[],
        "1 while this writer replica takes T+ to be down and probes with one call at a time, else 0.",
    ),
    gauge(
        "j2t_writer_held_vouchers",
        None,
        &[],
        "Vouchers this writer replica holds (in-progress acks, no delivery used up) until T+ answers again.",
    ),
    // Dead letters (any stage).
    counter(
        "j2t_dead_letters_total",
        &["stage", "reason"],
        "Messages dead-lettered to J2T_DLQ, by stage and reason.",
    ),
    // Monitor: the pipeline's state.
    gauge(
        "j2t_stage_stored",
        None,
        &["stage"],
        "Messages stored in the stage's input stream.",
    ),
    gauge(
        "j2t_stage_backlog",
        None,
        &["stage"],
        "Messages not yet delivered to the stage's consumer.",
    ),
    gauge(
        "j2t_stage_in_flight",
        None,
        &["stage"],
        "Messages delivered to the stage's consumer but not yet acknowledged.",
    ),
    gauge(
        "j2t_last_write_timestamp_seconds",
        Some(Unit::Seconds),
        &[],
        "Unix time of the last voucher written to T+.",
    ),
    gauge(
        "j2t_dead_letters_pending",
        None,
        &["stage", "reason"],
        "Dead letters not yet replayed, by stage and reason.",
    ),
    gauge(
        "j2t_sync_cursor_lag_seconds",
        Some(Unit::Seconds),
        &["task"],
        "How far a sync task's cursor is behind now (JST local time).",
    ),
    gauge(
        "j2t_sync_backfill_remaining_requests",
        None,
        &["task"],
        "JST requests a sync task still needs to catch up, as its fetcher last recorded it in the cursor (0: live).",
    ),
    gauge(
        "j2t_sync_backfill_remaining_seconds",
        Some(Unit::Seconds),
        &["task"],
        "Time a sync task still needs to catch up, as its fetcher last recorded it in the cursor (0: live).",
    ),
    gauge(
        "j2t_sync_backfill_done_ratio",
        None,
        &["task"],
        "Share of a sync task's catch-up requests made so far, 0 to 1 (1: live).",
    ),
    gauge(
        "j2t_storage_bytes",
        Some(Unit::Bytes),
        &["store"],
        "Bytes a NATS stream or KV bucket holds.",
    ),
    gauge(
        "j2t_storage_limit_bytes",
        Some(Unit::Bytes),
        &["store"],
        "Byte limit of a NATS stream or KV bucket (nats.*_max_bytes).",
    ),
    gauge(
        "j2t_storage_usage_ratio",
        None,
        &["store"],
        "Share of its byte limit a NATS stream or KV bucket holds (0 to 1).",
    ),
    // Monitor: alerting.
    gauge(
        "j2t_alerts_firing",
        None,
        &["alert"],
        "Alert conditions currently firing, by alert.",
    ),
    counter(
        "j2t_alerts_sent_total",
        &["alert", "status"],
        "Alert notifications sent, by alert and status (firing, resolved).",
    ),
    counter(
        "j2t_alerts_held_back_total",
        &["webhook"],
        "Alert notifications not sent because the webhook's rate limit was reached.",
    ),
    counter(
        "j2t_alerts_send_failures_total",
        &["webhook"],
        "Alert notifications a webhook failed to accept.",
    ),
    // Monitor: the daily reconcile (from the j2t_reconcile bucket, alike on every monitor).
    gauge(
        "j2t_reconcile_books_equal",
        None,
        &[],
        "1 when the latest daily reconcile that compared the books found JST and T+ equal, 0 when rows differ.",
    ),
    gauge(
        "j2t_reconcile_differing_rows",
        None,
        &[],
        "(date, warehouse, SKU) rows that differ in the latest daily reconcile.",
    ),
    gauge(
        "j2t_reconcile_qty_difference",
        None,
        &[],
        "Sum of |T+ quantity - JST quantity| over the differing rows of the latest daily reconcile.",
    ),
    gauge(
        "j2t_reconcile_amount_difference",
        None,
        &[],
        "Sum of |T+ amount - JST amount| over the differing rows of the latest daily reconcile.",
    ),
    gauge(
        "j2t_reconcile_last_checked_timestamp_seconds",
        Some(Unit::Seconds),
        &[],
        "Unix time the latest daily reconcile that compared the books finished.",
    ),
    gauge(
        "j2t_reconcile_last_run_timestamp_seconds",
        Some(Unit::Seconds),
        &[],
        "Unix time the latest daily reconcile finished, whatever its result.",
    ),
    gauge(
        "j2t_reconcile_last_run_ok",
        None,
        &[],
        "0 when the latest daily reconcile could not run, 1 when it compared the books.",
    ),
    gauge(
        "j2t_reconcile_last_run_duration_seconds",
        Some(Unit::Seconds),
        &[],
        "How long the latest daily reconcile took.",
    ),
    counter(
        "j2t_reconcile_runs_total",
        &["result"],
        "Daily reconcile runs this monitor made, by result (equal, differ, failed).",
    ),
    counter(
        "j2t_digests_sent_total",
        &["webhook"],
        "Daily digests a webhook accepted.",
    ),
];

/// Registers the catalogue's help texts and units with the installed recorder.
fn describe_all() {
    for def in METRICS {
        let (name, help) = (def.name, def.help);
        match (def.kind, def.unit) {
            (MetricKind::Counter, Some(unit)) => metrics::describe_counter!(name, unit, help),
            (MetricKind::Counter, None) => metrics::describe_counter!(name, help),
            (MetricKind::Gauge, Some(unit)) => metrics::describe_gauge!(name, unit, help),
            (MetricKind::Gauge, None) => metrics::describe_gauge!(name, help),
            (MetricKind::Histogram { .. }, Some(unit)) => {
                metrics::describe_histogram!(name, unit, help)
            }
            (MetricKind::Histogram { .. }, None) => metrics::describe_histogram!(name, help),
        }
    }
}

/// The exporter configured from the catalogue: every histogram renders `_bucket` series.
fn builder() -> PrometheusBuilder {
    let mut builder = PrometheusBuilder::new()
        .set_buckets(DEFAULT_BUCKETS)
        .expect("non-empty default buckets");
    for def in METRICS {
        if let MetricKind::Histogram { buckets } = def.kind {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(def.name.to_string()), buckets)
                .expect("non-empty buckets");
        }
    }
    builder
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder on first use (once per process, however many services it runs),
/// describes every metric, and starts the exporter's periodic upkeep.
pub fn metrics_handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        describe_all();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start the metrics upkeep thread");
        }
        handle
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use super::*;

    #[test]
    fn the_catalogue_follows_prometheus_conventions() {
        let mut names = BTreeSet::new();
        for def in METRICS {
            assert!(names.insert(def.name), "{} listed twice", def.name);
            assert!(def.name.starts_with("j2t_"), "{}", def.name);
            assert!(!def.help.trim().is_empty(), "{} has no help", def.name);
            let total = def.name.ends_with("_total");
            match def.kind {
                MetricKind::Counter => assert!(total, "counter {} must end in _total", def.name),
                MetricKind::Gauge => assert!(!total, "gauge {} must not end in _total", def.name),
                MetricKind::Histogram { buckets } => {
                    assert!(!total, "histogram {} must not end in _total", def.name);
                    assert!(!buckets.is_empty());
                    assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{}", def.name);
                }
            }
            if def.unit == Some(Unit::Seconds) {
                assert!(def.name.ends_with("_seconds"), "{}", def.name);
            }
            for label in def.labels {
                assert!(!label.contains('.'), "{}: label {label}", def.name);
            }
        }
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    rust_files(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every `counter!("…")`, `gauge!("…")`, `histogram!("…")` in the workspace: name → kind.
    fn used_metrics() -> BTreeMap<String, &'static str> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["shared", "services"] {
            rust_files(&root.join(dir), &mut files);
        }
        let mut used = BTreeMap::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for kind in ["counter", "gauge", "histogram"] {
                let call = format!("metrics::{kind}!(");
                for (at, _) in text.match_indices(&call) {
                    let rest = text[at + call.len()..].trim_start();
                    let Some(rest) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let name = rest.split('"').next().unwrap_or_default();
                    if let Some(previous) = used.insert(name.to_string(), kind) {
                        assert_eq!(previous, kind, "{name} used as {previous} and {kind}");
                    }
                }
            }
        }
        used
    }

    #[test]
    fn every_metric_used_is_in_the_catalogue_and_every_listed_one_is_used() {
        let used = used_metrics();
        assert!(
            used.len() > 10,
            "the source scan found the call sites: {used:?}"
        );
        for (name, kind) in &used {
            let def = METRICS
                .iter()
                .find(|d| d.name == name)
                .unwrap_or_else(|| panic!("{name} is not in the catalogue (prometheus.rs)"));
            let listed = match def.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram { .. } => "histogram",
            };
            assert_eq!(listed, *kind, "{name}");
        }
        for def in METRICS {
            assert!(
                used.contains_key(def.name),
                "{} is listed but never emitted",
                def.name
            );
        }
    }

    #[test]
    fn every_histogram_renders_buckets_and_every_metric_has_help() {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe_all();
            for def in METRICS {
                match def.kind {
                    MetricKind::Counter => metrics::counter!(def.name).increment(1),
                    MetricKind::Gauge => metrics::gauge!(def.name).set(1.0),
                    MetricKind::Histogram { .. } => metrics::histogram!(def.name).record(0.3),
                }
            }
        });
        let text = handle.render();
        for def in METRICS {
            assert!(
                text.contains(&format!("# HELP {} ", def.name)),
                "{}:\n{text}",
                def.name
            );
            if let MetricKind::Histogram { buckets } = def.kind {
                assert_eq!(
                    text.lines()
                        .filter(|l| l.starts_with(&format!("{}_bucket{{", def.name)))
                        .count(),
                    buckets.len() + 1,
                    "{}:\n{text}",
                    def.name
                );
            }
        }
        assert!(!text.contains("quantile="), "{text}");
    }
}
