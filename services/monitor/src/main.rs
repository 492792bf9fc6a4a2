fn main() -> anyhow::Result<()> {
    j2t_telemetry::service_main("monitor", j2t_monitor::run)
}
