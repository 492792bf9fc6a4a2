//! The monitor: evaluates the alert rules over the pipeline's state in NATS and notifies
//! webhooks (`alerts`), serves the operator console (`console`), and exports the pipeline's
//! state as gauges (`gauges`). Read-mostly: the only
//! writes are dead-letter replays an operator asks for.

mod alerts;
mod console;
mod gauges;

use std::sync::Arc;

use j2t_telemetry::ServiceContext;

pub async fn run(ctx: ServiceContext) -> anyhow::Result<()> {
    let cfg = Arc::new(ctx.config);
    let topology = Arc::new(j2t_topology::open(&cfg).await?);
    ctx.readiness.set(true);
    let (alerts, console, ()) = tokio::join!(
        alerts::run(topology.clone(), cfg.clone(), ctx.shutdown.clone()),
        console::run(topology.clone(), cfg.clone(), ctx.shutdown.clone()),
        gauges::run(topology, cfg, ctx.shutdown.clone()),
    );
    alerts.and(console)
}
