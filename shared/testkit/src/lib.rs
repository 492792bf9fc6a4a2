//! Real parts for tests and the demo: a `nats-server` child process on a free port with its
//! own store, and the workspace's binaries as child processes. Everything is killed on drop.

mod nats;
mod process;

pub use nats::{NatsServer, nats_server_bin};
pub use process::{Service, free_port, workspace_bin};
