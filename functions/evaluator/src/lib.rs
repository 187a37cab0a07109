//! The evaluator function: `handler` holds the logic over ports, `wiring` builds the real adapters from config;
//! `report` draws the replay command's backtest report.

pub mod config;
pub mod handler;
pub mod report;
pub mod wiring;
