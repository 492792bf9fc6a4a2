use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Jushuitan + T+ API simulator.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Extra TOML configuration layered over the built-in defaults.
    #[arg(long, env = "J2T_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    j2t_telemetry::init_logging("info");
    let cfg = j2t_config::Config::load(args.config.as_deref())?;
    let shutdown = j2t_telemetry::shutdown_on_signal();
    let running = j2t_simulator::start(&cfg, shutdown.clone())
        .await
        .context("starting the simulator")?;
    // Tests read this line to learn the ports.
    println!("simulator listening jst={} tplus={}", running.jst, running.tplus);
    tracing::info!(jst = %running.jst, tplus = %running.tplus, "simulator listening");
    shutdown.cancelled().await;
    Ok(())
}
