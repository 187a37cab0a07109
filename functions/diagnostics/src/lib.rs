//! The diagnostics function: `handler` serves the invariants report, `wiring` builds its adapters.

pub mod config;
pub mod handler;
pub mod page;
pub mod wiring;
