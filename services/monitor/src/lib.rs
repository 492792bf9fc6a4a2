//! The monitor: evaluates the alert rules over the pipeline's state in NATS and notifies
//! webhooks (`alerts`), serves the operator console (`console`), and exports the pipeline's
//! state as gauges (`gauges`). Read-mostly: the only
//! writes are dead-letter replays an operator asks for.

mod alerts;
mod console;
mod gauges;

use std::sync::Arc;

use j2t_runtime::ServiceContext;

pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    let cfg = Arc::new(ctx.config);
    let topology = Arc::new(j2t_topology::open(&cfg).await?);
    j2t_topology::watch_readiness(&ctx.readiness, &ctx.shutdown, &topology, None);
    // The first failure (e.g. the console's port taken) stops the whole monitor at once,
    // so it shows at start rather than at shutdown.
    let shutdown = ctx.shutdown.clone();
    let gauges = async {
        gauges::run(topology.clone(), cfg.clone(), shutdown.clone()).await;
        Ok::<(), anyhow::Error>(())
    };
    let stopped = tokio::try_join!(
        alerts::run(topology.clone(), cfg.clone(), shutdown.clone()),
        console::run(topology.clone(), cfg.clone(), shutdown.clone()),
        gauges,
    );
    shutdown.cancel();
    stopped.map(|_| ())
}
