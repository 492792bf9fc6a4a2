use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// jst2tplus: keeps 畅捷通 T+ in step with 聚水潭 Jushuitan.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// TOML file layered over the built-in defaults; `J2T__SECTION__KEY` variables override.
    #[arg(long, global = true, env = "J2T_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline locally against the simulator, with demo orders, and show what
    /// T+ received.
    Demo(jst2tplus::demo::DemoArgs),
    /// Where one JST order is: fetched, merged into which voucher, written to T+ or not.
    Whereis(jst2tplus::whereis::WhereisArgs),
    /// Validate a mapping file and name every problem with its row (default: the built-in
    /// mapping).
    Check(jst2tplus::check::CheckArgs),
    /// Dry-run a mapping on a JSON file of JST orders and print the T+ payloads; writes
    /// nothing.
    Render(jst2tplus::render::RenderArgs),
    /// Do the books match? JST re-queried for a date range against the vouchers read back
    /// from T+, per (date, warehouse, SKU), every difference explained. Exit 0 equal, 1 not,
    /// 2 could not run.
    Reconcile(jst2tplus::books::ReconcileArgs),
    /// Create or update the NATS streams, consumers and buckets (as the operator's user, where
    /// the services run with `nats.create_topology = false`).
    NatsSetup,
    /// Dead letters: list, show, replay, purge.
    Dlq {
        #[command(subcommand)]
        command: jst2tplus::dlq::DlqCommand,
    },
    /// Read a range of days of JST again now through the re-check path: orders not synced
    /// yet become one more voucher per day; nothing is written twice. Progress on stderr.
    Resync(jst2tplus::resync::ResyncArgs),
    /// Each sync task's cursor: show, or set its next window start.
    Cursor {
        #[command(subcommand)]
        command: jst2tplus::cursor::CursorCommand,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The mapping tools work on files alone: a broken service config must not block them.
    let config = || j2t_config::Config::load(cli.config.as_deref());
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match cli.command {
        Command::Check(args) => jst2tplus::check::run(args),
        Command::Render(args) if args.live_window.is_some() => {
            runtime()?.block_on(jst2tplus::render::run_live(config()?, args))
        }
        Command::Render(args) => jst2tplus::render::run(args),
        Command::Demo(args) => runtime()?.block_on(jst2tplus::demo::run(config()?, args)),
        Command::NatsSetup => runtime()?.block_on(jst2tplus::nats_setup::run(config()?)),
        Command::Dlq { command } => runtime()?.block_on(jst2tplus::dlq::run(config()?, command)),
        Command::Whereis(args) => runtime()?.block_on(jst2tplus::whereis::run(config()?, args)),
        Command::Resync(args) => runtime()?.block_on(jst2tplus::resync::run(config()?, args)),
        Command::Cursor { command } => {
            runtime()?.block_on(jst2tplus::cursor::run(config()?, command))
        }
        // Its own exit codes: 0 equal, 1 not, 2 could not run.
        Command::Reconcile(args) => {
            std::process::exit(jst2tplus::books::main(config().map_err(Into::into), args))
        }
    }
}
