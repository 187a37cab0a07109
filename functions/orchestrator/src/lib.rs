//! The orchestrator function: `handler` maps SQS batches onto the state machine, `wiring` builds its adapters.

pub mod config;
pub mod handler;
pub mod wiring;
