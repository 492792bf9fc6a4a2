fn main() -> anyhow::Result<()> {
    j2t_runtime::service_main("writer", j2t_writer::run)
}
