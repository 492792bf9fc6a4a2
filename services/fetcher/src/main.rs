fn main() -> anyhow::Result<()> {
    j2t_telemetry::service_main("fetcher", j2t_fetcher::run)
}
