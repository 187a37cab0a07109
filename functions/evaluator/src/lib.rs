//! The evaluator function: `handler` holds the logic over ports, `wiring` builds the real adapters from config.

pub mod config;
pub mod handler;
pub mod wiring;
