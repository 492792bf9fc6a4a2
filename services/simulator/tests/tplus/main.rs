//! The simulated T+ over real HTTP: Create, token refresh, master data and faults.

#[path = "../common/mod.rs"]
mod common;
mod create;
mod faults;
mod harness;
mod master_data;
mod tokens;
