use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Flushes buffered spans when dropped (end of `main`).
pub struct TracingGuard(Option<SdkTracerProvider>);

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("flushing traces: {error}");
        }
    }
}

/// Logs go to stderr: JSON when stderr is not a terminal (containers, log shippers), human
/// readable on a terminal. `RUST_LOG` overrides `default_filter`. Spans become OpenTelemetry
/// spans (exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, see `otel`), so
/// trace ids exist and travel in NATS headers either way.
pub fn init_logging(service: &'static str, default_filter: &str) -> TracingGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let provider = crate::otel::tracer_provider(service);
    // Spans are filtered apart from logs: quieter logs (RUST_LOG=warn) must not break the
    // trace context that travels between services.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_filter(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(otel);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // A second initialisation (tests, the demo running several services) is not an error.
    let installed = if std::io::stderr().is_terminal() {
        registry.with(fmt.with_filter(filter)).try_init()
    } else {
        let json = fmt.json().with_current_span(false).with_span_list(false);
        registry.with(json.with_filter(filter)).try_init()
    };
    match installed {
        Ok(()) => {
            opentelemetry::global::set_tracer_provider(provider.clone());
            TracingGuard(Some(provider))
        }
        Err(_) => TracingGuard(None),
    }
}
