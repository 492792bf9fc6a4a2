//! End-to-end tests: every service is a separate process of this workspace's binaries, NATS
//! is a real `nats-server`, Jushuitan and T+ are the simulator over HTTP. Build the binaries
//! first (`cargo build --bins`); the README's test command does.

mod cdp;
mod console;
mod dead_letters;
mod fetcher;
mod fetcher_replicas;
mod jst_protocol;
mod observability;
mod pipeline;
mod tracing;
mod transformer;
mod writer;
