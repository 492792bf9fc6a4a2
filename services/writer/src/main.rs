fn main() -> anyhow::Result<()> {
    j2t_telemetry::service_main("writer", j2t_writer::run)
}
