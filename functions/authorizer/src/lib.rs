//! The HTTP API's Lambda authorizer: `handler` decides, `main.rs` wires it.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // production functions ≤ 60 lines (clippy.toml)

pub mod config;
pub mod handler;
