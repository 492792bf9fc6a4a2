//! Real parts for tests and the demo: a `nats-server` child process with its own store, the
//! workspace's binaries (built fresh) as child processes, and seeds for random choices. Every
//! listener binds port 0 and reports the port it got: no port is guessed by binding and
//! dropping. Everything is killed on drop.

mod nats;
mod process;
mod seed;
mod webhook;

pub use nats::{NatsOptions, NatsServer, nats_server_bin};
pub use process::{Service, workspace_bin};
pub use seed::{TEST_SEED_ENV, seeded_rng, test_seed};
pub use webhook::{WebhookBodies, webhook_receiver};
