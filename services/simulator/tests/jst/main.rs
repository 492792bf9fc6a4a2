//! The simulated JST over real HTTP: signed requests, tokens, limits, ordering and faults.

mod faults;
mod harness;
mod limits;
mod ordering;
mod tokens;
