//! The pipeline's state as Prometheus gauges on the monitor's `/metrics`: consumer backlog
//! per stage, dead letters waiting, time of the last write, cursor lag and catch-up estimate
//! (as the fetcher records it in the cursor) per sync task. Labels are fixed stage names and
//! the closed sets of dead-letter stages and reasons (every pair is exported, zero when none
//! wait, so a replayed or purged letter does not leave a stale count behind).

use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often stale replay marks are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

use j2t_config::Config;
use j2t_domain::{DeadLetterReason, Stage};
use j2t_stores::{DeadLetterKind, PipelineStatus, StageStatus};
use j2t_topology::Topology;
use tokio_util::sync::CancellationToken;

pub async fn run(topology: Arc<Topology>, cfg: Arc<Config>, shutdown: CancellationToken) {
    let every = Duration::from_secs(cfg.monitor.evaluate_every_secs.max(1));
    let dead_letters = j2t_stores::DeadLetters::new(&topology);
    let mut swept: Option<Instant> = None;
    while !shutdown.is_cancelled() {
        // Replay marks of letters gone from the stream would count as replayed: drop them
        // now and then (this reads every mark's key, so not on every round).
        if swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
            match dead_letters.sweep_marks().await {
                Ok(dropped) => {
                    swept = Some(Instant::now());
                    if dropped > 0 {
                        tracing::info!(dropped, "dropped replay marks of letters no longer stored");
                    }
                }
                Err(error) => tracing::warn!(%error, "could not sweep the replay marks"),
            }
        }
        match j2t_stores::pipeline_status(&topology, cfg.jst.utc_offset_minutes).await {
            Ok(status) => export(&status),
            Err(error) => tracing::warn!(%error, "could not read the pipeline status"),
        }
        // The daily reconcile's result, while it runs (an old result would go stale).
        let books = if cfg.monitor.reconcile_enabled {
            crate::books::latest(&topology).await
        } else {
            Ok((None, None))
        };
        match books {
            Ok((latest, checked)) => crate::books::gauges::export(&crate::books::gauges::values(
                latest.as_ref(),
                checked.as_ref(),
            )),
            Err(error) => tracing::warn!(%error, "could not read the daily reconcile's results"),
        }
        match j2t_topology::storage_usage(&topology).await {
            Ok(usage) => export_storage(&usage),
            Err(error) => tracing::warn!(%error, "could not read storage usage"),
        }
        shutdown
            .run_until_cancelled(tokio::time::sleep(every))
            .await;
    }
}

fn export_storage(usage: &[j2t_topology::StorageUsage]) {
    for u in usage {
        let store = u.store.clone();
        metrics::gauge!("j2t_storage_bytes", "store" => store.clone()).set(u.bytes as f64);
        metrics::gauge!("j2t_storage_limit_bytes", "store" => store.clone())
            .set(u.max_bytes as f64);
        if let Some(ratio) = u.ratio() {
            metrics::gauge!("j2t_storage_usage_ratio", "store" => store).set(ratio);
        }
    }
}

fn export(status: &PipelineStatus) {
    let stages: [(&'static str, &StageStatus); 4] = [
        ("orders", &status.orders),
        ("windows", &status.windows),
        ("vouchers", &status.vouchers),
        ("written", &status.written),
    ];
    for (stage, s) in stages {
        metrics::gauge!("j2t_stage_stored", "stage" => stage).set(s.stored as f64);
        metrics::gauge!("j2t_stage_backlog", "stage" => stage).set(s.backlog as f64);
        metrics::gauge!("j2t_stage_in_flight", "stage" => stage).set(s.in_flight as f64);
    }
    if let Some(at) = status.written.last_at {
        metrics::gauge!("j2t_last_write_timestamp_seconds").set(at.timestamp() as f64);
    }
    for stage in Stage::ALL {
        for reason in DeadLetterReason::ALL {
            let count = status
                .dead_letters
                .get(&DeadLetterKind::new(stage, reason))
                .copied()
                .unwrap_or_default();
            metrics::gauge!("j2t_dead_letters_pending", "stage" => stage.as_str(), "reason" => reason.as_str())
                .set(count as f64);
        }
    }
    for cursor in &status.cursors {
        metrics::gauge!("j2t_sync_cursor_lag_seconds", "task" => cursor.task.clone())
            .set(cursor.lag_secs as f64);
        // The catch-up as the fetcher last recorded it; nothing until its first estimate.
        let Some(backfill) = &cursor.backfill else {
            continue;
        };
        let progress = &backfill.progress;
        let (Some(requests), Some(secs), Some(percent)) = (
            progress.remaining_requests,
            progress.remaining_secs,
            backfill.percent_done,
        ) else {
            continue;
        };
        let task = cursor.task.clone();
        metrics::gauge!("j2t_sync_backfill_remaining_requests", "task" => task.clone())
            .set(requests as f64);
        metrics::gauge!("j2t_sync_backfill_remaining_seconds", "task" => task.clone())
            .set(secs as f64);
        metrics::gauge!("j2t_sync_backfill_done_ratio", "task" => task).set(percent / 100.0);
    }
}
