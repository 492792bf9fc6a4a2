fn main() -> anyhow::Result<()> {
    j2t_runtime::service_main("monitor", j2t_monitor::run)
}
