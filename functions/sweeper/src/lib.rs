//! The sweeper function: `handler` computes and publishes the invariant metrics, `wiring` builds its adapters.

pub mod config;
pub mod handler;
pub mod wiring;
