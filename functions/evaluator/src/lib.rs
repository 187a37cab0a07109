//! The evaluator function: `handler` holds the logic over ports, `wiring` builds the real adapters from config.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // production functions ≤ 60 lines (clippy.toml)

pub mod config;
pub mod handler;
pub mod wiring;
