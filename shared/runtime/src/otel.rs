//! OpenTelemetry: the tracer provider, and the W3C trace context carried in NATS message
//! headers so that an order's fetch, its merge and its T+ write join up.

use async_nats::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are batched and exported over OTLP/HTTP
/// (protobuf; plain HTTP, e.g. to a collector beside the service). Without it, spans still
/// get ids — for logs, dead letters and propagation — but go nowhere.
pub fn tracer_provider(service: &'static str) -> SdkTracerProvider {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default();
    if endpoint.trim().is_empty() {
        return builder.build();
    }
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => builder.with_batch_exporter(exporter).build(),
        Err(error) => {
            eprintln!("OTLP exporter not started ({error}); traces are not exported");
            builder.build()
        }
    }
}

struct HeaderInjector<'a>(&'a mut Vec<(String, String)>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

/// The headers (`traceparent`, `tracestate`) that carry `span`'s context to the next stage.
pub fn trace_headers(span: &tracing::Span) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    TraceContextPropagator::new()
        .inject_context(&span.context(), &mut HeaderInjector(&mut headers));
    headers
}

/// The remote span context a message carries, if any.
pub fn remote_context(headers: Option<&HeaderMap>) -> Option<opentelemetry::Context> {
    let headers = headers?;
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `span` a child of the context `headers` carry (no-op without one).
pub fn continue_trace(span: &tracing::Span, headers: Option<&HeaderMap>) {
    if let Some(cx) = remote_context(headers) {
        let _ = span.set_parent(cx);
    }
}

/// Links `span` to the spans `headers` carry (a merged voucher to each of its orders).
pub fn link_to(span: &tracing::Span, headers: Option<&HeaderMap>) {
    if let Some(cx) = remote_context(headers) {
        span.add_link(cx.span().span_context().clone());
    }
}

/// The trace id (32 hex digits) a message carries, if any: stored with dead letters.
pub fn trace_id(headers: Option<&HeaderMap>) -> Option<String> {
    remote_context(headers).map(|cx| cx.span().span_context().trace_id().to_string())
}
