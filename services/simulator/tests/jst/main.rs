//! The simulated JST over real HTTP: signed requests, tokens, limits, ordering and faults.

#[path = "../common/mod.rs"]
mod common;
mod faults;
mod harness;
mod late;
mod limits;
mod ordering;
mod tokens;
