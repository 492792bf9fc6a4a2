fn main() -> anyhow::Result<()> {
    j2t_telemetry::service_main("transformer", j2t_transformer::run)
}
