//! `jst2tplus nats-setup`: creates or updates every stream, consumer and KV bucket, as the
//! operator's NATS user. Where the services run with `nats.create_topology = false` (least
//! privilege: they may not create or change the topology), this runs first and after every
//! upgrade or change of a `[nats]` limit or `nats.replicas`.

use anyhow::Context;
use j2t_config::Config;

pub async fn run(mut cfg: Config) -> anyhow::Result<()> {
    cfg.nats.create_topology = true;
    j2t_topology::open(&cfg)
        .await
        .with_context(|| format!("setting up the NATS topology at {}", cfg.nats.url))?;
    println!(
        "NATS topology ready at {} ({} replica(s))",
        cfg.nats.url, cfg.nats.replicas
    );
    Ok(())
}
