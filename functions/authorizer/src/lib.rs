//! The HTTP API's Lambda authorizer: `handler` decides, `main.rs` wires it.

pub mod config;
pub mod handler;
