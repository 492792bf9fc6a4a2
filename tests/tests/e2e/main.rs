//! End-to-end tests: every service is a separate process of this workspace's binaries, NATS
//! is a real `nats-server`, Jushuitan and T+ are the simulator over HTTP. The harness builds
//! the binaries (`cargo build --bins`) once per run before starting any, so none is stale.
//! Every listener binds port 0 and reports the port it got. Random choices (kill points) come
//! from `J2T_TEST_SEED` when set, else from the OS, and the seed is printed.

mod books;
mod cdp;
mod changes;
mod confirm;
mod console;
mod console_backfill;
mod dead_letters;
mod fetcher;
mod fetcher_replicas;
mod jst_protocol;
mod late;
mod master_data;
mod nats;
mod nats_cluster;
mod nats_security;
mod observability;
mod pipeline;
mod poison;
mod reconcile;
mod support;
mod tracing;
mod transformer;
mod upstream_security;
mod writer;
