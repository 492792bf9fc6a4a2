fn main() -> anyhow::Result<()> {
    j2t_runtime::service_main("fetcher", j2t_fetcher::run)
}
