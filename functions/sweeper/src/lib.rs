//! The sweeper function: `handler` computes and publishes the invariant metrics, `wiring` builds its adapters.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // production functions ≤ 60 lines (clippy.toml)

pub mod config;
pub mod handler;
pub mod wiring;
