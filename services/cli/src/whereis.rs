//! `jst2tplus whereis IO_ID`: where one JST order is in the pipeline — fetched by which
//! window, merged into which voucher, and whether T+ has that voucher.

use anyhow::Context;
use clap::Args;
use j2t_config::Config;
use j2t_domain::{Attempt, io_id_of};
use j2t_topology::{Claim, DeadLetters, DlqFilter, Lineage, VoucherState};
use serde::Serialize;

#[derive(Args, Debug)]
pub struct WhereisArgs {
    /// The order's io_id (JST outbound order id).
    pub io_id: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything known about one order.
#[derive(Debug, Serialize)]
struct Whereabouts {
    io_id: i64,
    /// `task/window` of the fetch that published it.
    fetched_by: Option<String>,
    voucher: Option<Claim>,
    voucher_state: Option<VoucherState>,
    failed_attempts: Vec<Attempt>,
    /// Dead letters holding this order (bad order) or its voucher, by id.
    dead_letters: Vec<(u64, String)>,
}

pub async fn run(cfg: Config, args: WhereisArgs) -> anyhow::Result<()> {
    let topology = j2t_topology::open(&cfg)
        .await
        .with_context(|| format!("connecting to NATS at {}", cfg.nats.url))?;
    let io_id = args.io_id;
    let fetched_by = topology
        .seen
        .get(io_id.to_string())
        .await?
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let lineage = Lineage::new(&topology);
    let voucher = lineage.claim_of(io_id).await?;
    let (voucher_state, failed_attempts) = match &voucher {
        Some(claim) => (
            lineage.state(&claim.external_code).await?,
            j2t_topology::AttemptLog::new(topology.attempts.clone())
                .history(&claim.external_code)
                .await?,
        ),
        None => (None, Vec::new()),
    };
    let code = voucher.as_ref().map(|c| c.external_code.as_str());
    let dead_letters = DeadLetters::new(&topology)
        .list(&DlqFilter::default())
        .await?
        .into_iter()
        .filter(|e| {
            io_id_of(&e.letter.payload) == Some(io_id)
                || (code.is_some() && e.letter.payload["external_code"].as_str() == code)
        })
        .map(|e| {
            (
                e.id,
                format!(
                    "{} {}: {}",
                    e.letter.stage.as_str(),
                    e.letter.reason,
                    e.letter.error
                ),
            )
        })
        .collect();
    let found = Whereabouts {
        io_id,
        fetched_by,
        voucher,
        voucher_state,
        failed_attempts,
        dead_letters,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", describe(&found));
    }
    if found.fetched_by.is_none() && found.voucher.is_none() && found.dead_letters.is_empty() {
        anyhow::bail!("io_id {io_id} is unknown to the pipeline (not fetched yet?)");
    }
    Ok(())
}

fn describe(w: &Whereabouts) -> String {
    let mut text = format!("io_id {}\n", w.io_id);
    let mut line = |label: &str, value: String| text.push_str(&format!("  {label:<9} {value}\n"));
    line(
        "fetched",
        w.fetched_by
            .as_deref()
            .map_or("not recorded".into(), |by| format!("by {by}")),
    );
    match &w.voucher {
        Some(claim) => line(
            "merged",
            format!(
                "into voucher {} (from {})",
                claim.external_code, claim.orders_subject
            ),
        ),
        None => line("merged", "not merged into any voucher".into()),
    }
    let t_plus = match (&w.voucher, &w.voucher_state) {
        (_, Some(s)) if s.state == "dead_lettered" => format!(
            "dead-lettered at {}: {}",
            s.at.format("%Y-%m-%d %H:%M:%S UTC"),
            s.detail
        ),
        (_, Some(s)) => format!(
            "written ({}) at {}",
            s.state,
            s.at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        (Some(_), None) => match w.failed_attempts.last() {
            Some(last) => format!(
                "not written yet: {} failed attempts, last: {}",
                w.failed_attempts.len(),
                last.error
            ),
            None => "not written yet".into(),
        },
        (None, None) => "-".into(),
    };
    line("T+", t_plus);
    for (id, what) in &w.dead_letters {
        line(
            "dead",
            format!("letter {id}: {what} (jst2tplus dlq show {id})"),
        );
    }
    text
}
