use std::future::Future;
use std::path::PathBuf;

use clap::Parser;
use j2t_config::Config;
use tokio_util::sync::CancellationToken;

use crate::{Readiness, init_logging, serve_admin, shutdown_on_signal};

/// Command line shared by every service binary.
#[derive(Parser)]
#[command(version)]
struct ServiceArgs {
    /// TOML file layered over the built-in defaults (config/default.toml); `J2T__SECTION__KEY`
    /// environment variables override both.
    #[arg(long, env = "J2T_CONFIG")]
    config: Option<PathBuf>,
}

/// What a running service gets from its `main`.
pub struct ServiceContext {
    pub config: Config,
    pub shutdown: CancellationToken,
    /// Set to ready once the service's dependencies are reachable.
    pub readiness: Readiness,
}

/// The whole `main` of a service: arguments, logging, configuration, signals, the admin
/// endpoint, then `run` until it returns or a signal asks it to stop.
pub fn service_main<F, Fut>(name: &'static str, run: F) -> anyhow::Result<()>
where
    F: FnOnce(ServiceContext) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let args = ServiceArgs::parse();
    let _tracing = init_logging(name, "info");
    let config = Config::load(args.config.as_deref())?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let shutdown = shutdown_on_signal();
            let readiness = Readiness::default();
            let admin = serve_admin(config.admin.listen, readiness.clone(), shutdown.clone())
                .await
                .map_err(|e| anyhow::anyhow!("admin.listen {}: {e}", config.admin.listen))?;
            crate::announce_listening("admin", admin);
            tracing::info!(service = name, %admin, "starting");
            let result = run(ServiceContext {
                config,
                shutdown: shutdown.clone(),
                readiness,
            })
            .await;
            shutdown.cancel();
            match &result {
                Ok(()) => tracing::info!(service = name, "stopped"),
                Err(error) => {
                    tracing::error!(service = name, error = format!("{error:#}"), "failed")
                }
            }
            result
        })
}
