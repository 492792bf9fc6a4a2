//! The operator CLI's commands. Each module is one command (`books` is `jst2tplus
//! reconcile`); `reconcile` is the quick comparison of JST orders with T+ vouchers through the
//! simulator's admin API that the demo and the tests share.

pub mod books;
pub mod check;
pub mod cursor;
pub mod demo;
pub mod dlq;
pub mod nats_setup;
pub mod reconcile;
pub mod render;
pub mod resync;
pub mod whereis;
