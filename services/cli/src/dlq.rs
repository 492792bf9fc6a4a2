//! `jst2tplus dlq list|show|replay|purge`: the dead-letter workflow for operators.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use j2t_config::Config;
use j2t_domain::{DeadLetterReason, Stage};
use j2t_stores::{DeadLetters, DlqEntry, DlqFilter, PageFrom};

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// List dead letters, oldest first, one page at a time (replayed ones only with --all).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Entries per page.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this id (the last id of the previous page).
        #[arg(long)]
        after: Option<u64>,
    },
    /// Everything about one dead letter, as JSON: reason, error, attempt history, payload.
    Show { id: u64 },
    /// Republish dead letters to where they came from and mark them replayed.
    Replay {
        #[command(flatten)]
        filter: FilterArgs,
        /// Show what would be replayed, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replays per second.
        #[arg(long, default_value_t = 10)]
        rate: u32,
    },
    /// Delete dead letters for good (asks for confirmation).
    Purge {
        #[command(flatten)]
        filter: FilterArgs,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args, Debug)]
pub struct FilterArgs {
    /// Dead-letter ids (their sequence in the stream); none = every entry the filters select.
    pub ids: Vec<u64>,
    /// fetcher, transformer or writer.
    #[arg(long)]
    pub stage: Option<Stage>,
    /// bad_event, bad_json, bad_order, bad_payload, rejected, retries_exhausted, too_large or
    /// window_failed.
    #[arg(long)]
    pub reason: Option<DeadLetterReason>,
    /// Only failures since this time: RFC 3339 (2026-11-28T08:00:00Z) or a UTC date.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Include entries already replayed.
    #[arg(long)]
    pub all: bool,
}

impl FilterArgs {
    fn filter(&self) -> DlqFilter {
        DlqFilter {
            ids: self.ids.clone(),
            stage: self.stage,
            reason: self.reason,
            since: self.since,
            include_replayed: self.all,
        }
    }
}

fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| format!("`{s}` is neither RFC 3339 nor yyyy-mm-dd"))
}

pub async fn run(cfg: Config, command: DlqCommand) -> anyhow::Result<()> {
    let topology = j2t_topology::attach(&cfg)
        .await
        .with_context(|| format!("opening the pipeline's NATS topology at {}", cfg.nats.url))?;
    let dlq = DeadLetters::new(&topology);
    match command {
        DlqCommand::List {
            filter,
            limit,
            after,
        } => {
            let page = dlq
                .page(&filter.filter(), PageFrom::After(after), limit)
                .await?;
            if page.entries.is_empty() {
                println!("no dead letters");
            } else {
                println!("{}", table(&page.entries));
                match page.next {
                    Some(next) => println!(
                        "{} dead letters shown; more with --after {next}",
                        page.entries.len()
                    ),
                    None => println!("{} dead letters", page.entries.len()),
                }
            }
        }
        DlqCommand::Show { id } => {
            let entry = dlq
                .get(id)
                .await?
                .with_context(|| format!("no dead letter with id {id}"))?;
            println!("{}", serde_json::to_string_pretty(&entry)?);
        }
        DlqCommand::Replay {
            filter,
            dry_run,
            rate,
        } => {
            let entries = dlq.list(&filter.filter()).await?;
            let total = entries.len();
            if dry_run {
                for e in &entries {
                    println!(
                        "would replay {} ({} {}) to {}",
                        e.id,
                        e.letter.stage.as_str(),
                        e.letter.reason,
                        e.letter.original_subject
                    );
                }
                println!("{total} dead letters would be replayed");
                return Ok(());
            }
            let mut pace = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
            let mut failed = 0;
            for (i, e) in entries.iter().enumerate() {
                pace.tick().await;
                match dlq.replay(e).await {
                    Ok(subject) => println!("[{}/{total}] replayed {} to {subject}", i + 1, e.id),
                    Err(error) => {
                        failed += 1;
                        eprintln!("[{}/{total}] {error}", i + 1);
                    }
                }
            }
            println!("{} replayed, {failed} failed", total - failed);
            if failed > 0 {
                anyhow::bail!("{failed} dead letters could not be replayed");
            }
        }
        DlqCommand::Purge { filter, yes } => {
            let entries = dlq.list(&filter.filter()).await?;
            if entries.is_empty() {
                println!("no dead letters match");
                return Ok(());
            }
            if !yes && !confirm(entries.len())? {
                println!("nothing deleted");
                return Ok(());
            }
            let deleted = dlq.purge(&entries).await?;
            println!("{deleted} dead letters deleted");
        }
    }
    Ok(())
}

fn confirm(count: usize) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("refusing to delete {count} dead letters without --yes (no terminal to ask)");
    }
    print!("Delete {count} dead letters for good? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn table(entries: &[DlqEntry]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "id",
        "stage",
        "reason",
        "last failure (UTC)",
        "attempts",
        "error",
        "replayed",
    ]);
    for e in entries {
        let error: String = e.letter.error.chars().take(80).collect();
        table.add_row([
            e.id.to_string(),
            e.letter.stage.as_str().to_string(),
            e.letter.reason.to_string(),
            e.letter
                .last_failure
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            e.letter.attempts.to_string(),
            error,
            e.replayed.as_ref().map_or_else(String::new, |r| {
                r.at.format("%Y-%m-%d %H:%M:%S").to_string()
            }),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_rfc3339_and_dates() {
        assert_eq!(
            parse_since("2026-11-28").map(|t| t.to_rfc3339()),
            Ok("2026-11-28T00:00:00+00:00".to_string())
        );
        assert_eq!(
            parse_since("2026-11-28T10:00:00+08:00").map(|t| t.to_rfc3339()),
            Ok("2026-11-28T02:00:00+00:00".to_string())
        );
        assert!(parse_since("yesterday").is_err());
    }
}
