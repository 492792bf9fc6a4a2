//! `jst2tplus cursor show|set`: where each sync task stands, and moving a task's cursor by
//! hand (e.g. back, to read a range again with the live sync; `resync` is usually better: it
//! leaves the cursor alone).

use anyhow::Context;
use async_nats::jetstream::kv;
use chrono::NaiveDateTime;
use clap::Subcommand;
use j2t_config::{Config, SyncTask};
use j2t_fetcher::{CursorState, CursorStore, RecheckState};
use j2t_topology::names;

#[derive(Subcommand, Debug)]
pub enum CursorCommand {
    /// Each task's cursor (next window start, the window being read) and re-check progress.
    Show {
        /// Only this sync task.
        #[arg(long, value_name = "NAME")]
        task: Option<String>,
    },
    /// Sets a task's next window start. Orders already synced are not published again
    /// (j2t_seen), so moving back re-reads without double counting.
    Set {
        #[arg(long, value_name = "NAME")]
        task: String,
        /// New next window start, JST local `yyyy-MM-dd HH:mm:ss` (or `yyyy-MM-dd`: midnight).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        next_start: NaiveDateTime,
    },
}

/// `yyyy-MM-dd HH:mm:ss` or `yyyy-MM-dd` (midnight).
pub fn parse_time(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.trim();
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day
            .and_hms_opt(0, 0, 0)
            .ok_or_else(|| format!("`{text}` has no midnight"));
    }
    j2t_domain::jst_time::parse(text)
}

/// The configured tasks, or the one named (an unknown name is an error naming the known).
pub fn pick_tasks(cfg: &Config, name: Option<&str>) -> anyhow::Result<Vec<SyncTask>> {
    let tasks = cfg.fetcher.sync_tasks();
    let Some(name) = name else {
        return Ok(tasks);
    };
    let known: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    let picked: Vec<SyncTask> = tasks.into_iter().filter(|t| t.name == name).collect();
    if picked.is_empty() {
        anyhow::bail!(
            "--task {name}: no such sync task (configured: {})",
            known.join(", ")
        );
    }
    Ok(picked)
}

pub async fn run(cfg: Config, command: CursorCommand) -> anyhow::Result<()> {
    let topology = j2t_topology::attach(&cfg)
        .await
        .with_context(|| format!("opening the pipeline's NATS topology at {}", cfg.nats.url))?;
    match command {
        CursorCommand::Show { task } => {
            for task in pick_tasks(&cfg, task.as_deref())? {
                print!("{}", show(&topology.cursors, &task.name).await?);
            }
        }
        CursorCommand::Set { task, next_start } => {
            let task = pick_tasks(&cfg, Some(&task))?.remove(0);
            let mut store = CursorStore::new(topology.cursors.clone(), &task.name);
            let old = store.load().await?;
            let new = CursorState {
                next_start,
                pending: None,
                attempts: 0,
                // A moved cursor starts a catch-up of its own.
                backfill: None,
            };
            store.save(&new).await?;
            let was = old.as_ref().map_or("none (never synced)".to_string(), |s| {
                let pending = s
                    .pending
                    .map(|w| format!(", window {} pending (dropped)", w.id()))
                    .unwrap_or_default();
                format!("{}{pending}", s.next_start)
            });
            println!(
                "task {}: next_start {was} → {next_start}\nA running fetcher picks it up at \
                 its next window.",
                task.name
            );
        }
    }
    Ok(())
}

async fn show(cursors: &kv::Store, task: &str) -> anyhow::Result<String> {
    let mut text = format!("task {task}\n");
    let cursor = match cursors.get(task).await? {
        Some(bytes) => serde_json::from_slice::<CursorState>(&bytes)
            .map(|c| {
                let pending = c
                    .pending
                    .map(|w| format!(" (reading {} .. {})", w.start, w.end))
                    .unwrap_or_default();
                format!(
                    "next_start {}{pending}\n  catch-up  {}",
                    c.next_start,
                    catch_up(c.backfill.as_ref())
                )
            })
            .unwrap_or_else(|e| format!("unreadable: {e}")),
        None => "none (never synced)".into(),
    };
    text.push_str(&format!("  cursor    {cursor}\n"));
    let recheck = match cursors.get(names::recheck_key(task)).await? {
        Some(bytes) => match serde_json::from_slice::<RecheckState>(&bytes) {
            Ok(r) if r.done => format!(
                "last pass started {} covered up to {}",
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.until
            ),
            Ok(r) => format!(
                "pass started {} at {} of ..{}",
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.next_start,
                r.until
            ),
            Err(e) => format!("unreadable: {e}"),
        },
        None => "no pass yet".into(),
    };
    text.push_str(&format!("  re-check  {recheck}\n"));
    Ok(text)
}

/// The fetcher's catch-up record in words, as the console says it.
fn catch_up(backfill: Option<&j2t_stores::Backfill>) -> String {
    let Some(b) = backfill else {
        return "not recorded yet".into();
    };
    let done = format!(
        "since {}: {} windows, {} orders, {} requests; estimated {}",
        b.from,
        b.windows,
        b.orders,
        b.requests,
        b.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    match (b.remaining_requests, b.remaining_secs, b.percent_done()) {
        _ if b.is_live() => format!("live ({done})"),
        (Some(requests), Some(secs), Some(percent)) => format!(
            "{requests} requests, about {} min left, {percent:.0} % done ({done})",
            secs.div_ceil(60)
        ),
        _ => format!("estimate after the first window ({done})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catch_up_in_words() {
        let at = |s| j2t_domain::jst_time::parse(s).expect("time");
        let now = chrono::DateTime::from_timestamp(1_764_547_200, 0).expect("time");
        let begun =
            j2t_stores::Backfill::begin(at("2026-11-01 00:00:00"), at("2026-11-30 23:58:00"), now);
        let since = "since 2026-11-01 00:00:00";
        assert_eq!(catch_up(None), "not recorded yet");
        assert!(catch_up(Some(&begun)).starts_with("estimate after the first window (since"));
        let behind = j2t_stores::Backfill {
            requests: 100,
            windows: 2,
            orders: 4_000,
            remaining_requests: Some(300),
            remaining_secs: Some(189),
            ..begun.clone()
        };
        assert_eq!(
            catch_up(Some(&behind)),
            format!(
                "300 requests, about 4 min left, 25 % done ({since}: 2 windows, 4000 orders, \
                 100 requests; estimated 2025-12-01 00:00:00 UTC)"
            )
        );
        let live = j2t_stores::Backfill {
            remaining_requests: Some(0),
            remaining_secs: Some(0),
            ..behind
        };
        assert!(catch_up(Some(&live)).starts_with("live (since"));
    }

    #[test]
    fn times_take_a_day_or_a_second() {
        assert_eq!(
            parse_time("2026-11-25").expect("day").to_string(),
            "2026-11-25 00:00:00"
        );
        assert_eq!(
            parse_time(" 2026-11-25 08:30:00 ")
                .expect("time")
                .to_string(),
            "2026-11-25 08:30:00"
        );
        assert!(parse_time("25/11/2026").is_err());
    }
}
