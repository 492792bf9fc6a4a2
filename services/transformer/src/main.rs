fn main() -> anyhow::Result<()> {
    j2t_runtime::service_main("transformer", j2t_transformer::run)
}
