//! What every service does the same way: logging set-up, shutdown signals, and the admin
//! endpoint (`/healthz`, `/readyz`) on `admin.listen`.

mod admin;
mod logging;
mod shutdown;

pub use admin::{Readiness, serve_admin};
pub use logging::init_logging;
pub use shutdown::shutdown_on_signal;
