//! The operator CLI's commands. Each module is one command; `reconcile` is the pure
//! comparison of JST orders with T+ vouchers that the demo and the tests share.

pub mod check;
pub mod demo;
pub mod dlq;
pub mod reconcile;
pub mod render;
pub mod whereis;
