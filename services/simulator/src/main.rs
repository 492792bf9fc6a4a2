fn main() -> anyhow::Result<()> {
    j2t_runtime::service_main("simulator", |ctx| async move {
        let running = j2t_simulator::start(&ctx.config, ctx.shutdown.clone()).await?;
        // Tests and scripts read this line to learn the ports.
        println!(
            "simulator listening jst={} tplus={}",
            running.jst, running.tplus
        );
        j2t_runtime::announce_listening("jst", running.jst);
        j2t_runtime::announce_listening("tplus", running.tplus);
        tracing::info!(jst = %running.jst, tplus = %running.tplus, "simulator listening");
        ctx.readiness.set(true);
        ctx.shutdown.cancelled().await;
        Ok(())
    })
}
