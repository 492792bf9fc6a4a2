//! The monitor: evaluates the alert rules over the pipeline's state in NATS and notifies
//! webhooks (`alerts`), serves the operator console (`console`), exports the pipeline's
//! state as gauges (`gauges`), and runs the daily reconcile and digest (`books`).
//! Read-mostly: its writes are dead-letter replays an operator asks for and the daily
//! reconcile's results.

mod alerts;
mod books;
mod console;
mod gauges;

use std::sync::Arc;

use j2t_runtime::ServiceContext;

pub use books::{Engine, ReconcileEngine};

pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    run_with(ctx, Arc::new(ReconcileEngine)).await
}

/// [`run`] with another reconcile engine (tests feed it reports of their own).
pub async fn run_with(ctx: ServiceContext, engine: Arc<dyn Engine>) -> anyhow::Result<()> {
    let cfg = Arc::new(ctx.config);
    // The monitor calls the APIs only for the daily reconcile: then a mixed or
    // demo-against-real setup must not start.
    if cfg.monitor.reconcile_enabled {
        j2t_stores::refuse_mixed_setup(&cfg).await?;
    }
    let topology = Arc::new(j2t_topology::open(&cfg).await?);
    j2t_topology::watch_readiness(&ctx.readiness, &ctx.shutdown, &topology, None);
    // The first failure (e.g. the console's port taken) stops the whole monitor at once,
    // so it shows at start rather than at shutdown.
    let shutdown = ctx.shutdown.clone();
    let gauges = async {
        gauges::run(topology.clone(), cfg.clone(), shutdown.clone()).await;
        Ok::<(), anyhow::Error>(())
    };
    let digest = alerts::DigestSender::new(&cfg)?;
    let daily = async {
        books::run(
            topology.clone(),
            cfg.clone(),
            engine,
            digest,
            shutdown.clone(),
        )
        .await;
        Ok::<(), anyhow::Error>(())
    };
    let stopped = tokio::try_join!(
        alerts::run(topology.clone(), cfg.clone(), shutdown.clone()),
        console::run(topology.clone(), cfg.clone(), shutdown.clone()),
        gauges,
        daily,
    );
    shutdown.cancel();
    stopped.map(|_| ())
}
