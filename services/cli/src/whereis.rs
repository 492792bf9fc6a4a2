//! `jst2tplus whereis IO_ID`: where one JST order is in the pipeline — fetched by which
//! window, merged into which voucher, and whether T+ has that voucher.

use anyhow::Context;
use clap::Args;
use j2t_config::Config;
use j2t_stores::{Whereabouts, whereabouts};

#[derive(Args, Debug)]
pub struct WhereisArgs {
    /// The order's io_id (JST outbound order id).
    pub io_id: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cfg: Config, args: WhereisArgs) -> anyhow::Result<()> {
    let topology = j2t_topology::attach(&cfg)
        .await
        .with_context(|| format!("opening the pipeline's NATS topology at {}", cfg.nats.url))?;
    let found = whereabouts(&topology, args.io_id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", describe(&found));
    }
    if found.is_unknown() {
        anyhow::bail!(
            "io_id {} is unknown to the pipeline (not fetched yet?)",
            args.io_id
        );
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
    for seen in &w.changes {
        let c = &seen.change;
        let when = c.at.format("%Y-%m-%d %H:%M:%S UTC");
        let what = match c.outcome.as_str() {
            "corrected" => {
                let by: Vec<String> = seen
                    .correction_states
                    .iter()
                    .map(|(code, state)| format!("{code} ({state})"))
                    .collect();
                format!("{}; corrected by {}", c.summary, by.join(", "))
            }
            "reported" => format!(
                "{}; reported, T+ not corrected (corrections.policy = report)",
                c.summary
            ),
            _ => "nothing the voucher holds changed".to_string(),
        };
        line(
            "changed",
            format!(
                "at {when} (JST status {}, version {}): {what}",
                c.status, c.ts
            ),
        );
    }
    for (id, what) in &w.dead_letters {
        line(
            "dead",
            format!("letter {id}: {what} (jst2tplus dlq show {id})"),
        );
    }
    text
}
