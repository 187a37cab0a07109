//! The diagnostics function: `handler` serves the invariants report, `wiring` builds its adapters.

pub mod handler;
pub mod wiring;
