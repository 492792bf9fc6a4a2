//! What every service does the same way: its `main` (arguments, configuration), logging,
//! shutdown signals, and the admin endpoint (`/healthz`, `/readyz`, `/metrics`) on `admin.listen`.

mod admin;
mod logging;
mod otel;
mod prometheus;
mod readiness;
mod service;
mod shutdown;

pub use admin::{
    LISTEN_FILE_ENV, ServerLimits, announce_listening, serve, serve_admin, serve_with,
};
pub use logging::{TracingGuard, init_logging};
pub use otel::{continue_trace, link_to, remote_context, trace_headers, trace_id};
pub use prometheus::{METRICS, MetricDef, MetricKind, metrics_handle};
pub use readiness::{Readiness, http_reachable, keep_ready};
pub use service::{ServiceContext, service_main};
pub use shutdown::shutdown_on_signal;
