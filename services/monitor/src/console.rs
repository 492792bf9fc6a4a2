//! Operator console (placeholder until built).

use std::sync::Arc;

use j2t_config::Config;
use j2t_topology::Topology;
use tokio_util::sync::CancellationToken;

pub async fn run(
    _topology: Arc<Topology>,
    _cfg: Arc<Config>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    shutdown.cancelled().await;
    Ok(())
}
