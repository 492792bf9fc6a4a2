//! `jst2tplus resync --from DATE --to DATE [--task NAME]`: reads a range of days of JST again
//! now, through the re-check path (see the fetcher's `recheck`): orders no window synced yet
//! are published as a window of their own per day and become one more voucher each; orders
//! already synced are skipped, so nothing is written twice and a second resync writes
//! nothing. It takes only the re-checks' share of the JST rate limit (the running fetcher
//! keeps the rest) and reads only up to where each task's live sync stands.

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use j2t_config::Config;
use j2t_fetcher::{Gate, TaskSync};
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug)]
pub struct ResyncArgs {
    /// First JST day to read again (yyyy-MM-dd).
    #[arg(long, value_name = "DATE", value_parser = crate::books::parse_date)]
    pub from: NaiveDate,
    /// Last JST day to read again (yyyy-MM-dd), included.
    #[arg(long, value_name = "DATE", value_parser = crate::books::parse_date)]
    pub to: NaiveDate,
    /// Only this sync task (default: every task).
    #[arg(long, value_name = "NAME")]
    pub task: Option<String>,
}

pub async fn run(cfg: Config, args: ResyncArgs) -> anyhow::Result<()> {
    if args.to < args.from {
        anyhow::bail!("--to {} is before --from {}", args.to, args.from);
    }
    let tasks = crate::cursor::pick_tasks(&cfg, args.task.as_deref())?;
    let topology = j2t_topology::attach(&cfg)
        .await
        .with_context(|| format!("opening the pipeline's NATS topology at {}", cfg.nats.url))?;
    let jst = j2t_stores::jst_client(&cfg, &topology).context("building the JST client")?;
    if let Err(error) = jst.load_stored_tokens().await {
        eprintln!("could not read stored JST tokens ({error}); using the configured ones");
    }
    let share = Gate::share_limiter(&cfg, &topology);
    let stop = CancellationToken::new();
    let ctrl_c = stop.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        ctrl_c.cancel();
    });
    for task in tasks {
        let name = task.name.clone();
        let sync = TaskSync::new(
            task,
            &cfg.fetcher,
            cfg.jst.utc_offset_minutes,
            jst.clone(),
            &topology,
        )
        .with_recheck_gate(Gate::new(share.clone(), None));
        eprintln!("task {name}: re-reading {} .. {}", args.from, args.to);
        let summary = sync
            .resync(args.from, args.to, &stop, |report| {
                eprintln!(
                    "  window {}: {} pages, {} new orders published, {} already synced",
                    report.window.id(),
                    report.pages,
                    report.orders,
                    report.already_synced
                );
            })
            .await
            .with_context(|| format!("resync of task {name}"))?;
        println!(
            "task {name}: {} windows read up to {}, {} pages, {} orders not synced before now \
             published, {} already synced",
            summary.windows,
            summary.until,
            summary.pages,
            summary.published,
            summary.already_synced
        );
    }
    Ok(())
}
