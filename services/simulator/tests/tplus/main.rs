//! The simulated T+ over real HTTP: Create, token refresh, master data, faults, the read
//! endpoints and answer knobs; and the project's T+ read client against it.

#[path = "../common/mod.rs"]
mod common;
mod create;
mod faults;
mod harness;
mod knobs;
mod master_data;
mod read_client;
mod reads;
mod sdk;
mod tokens;
