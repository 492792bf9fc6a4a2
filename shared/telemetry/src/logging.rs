use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Logs go to stderr: JSON when stderr is not a terminal (containers, log shippers), human
/// readable on a terminal. `RUST_LOG` overrides `default_filter`.
pub fn init_logging(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests, the demo running several services) is not an error.
    let _ = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        builder.json().with_current_span(false).try_init()
    };
}
