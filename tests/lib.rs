//! Shared by the end-to-end tests (`tests/e2e`) and the benchmarks (`benches/`): a stack of
//! real processes (nats-server, the simulator) and ways to look inside it.

pub mod harness;
