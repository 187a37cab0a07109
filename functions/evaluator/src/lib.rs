//! The evaluator function: `handler` holds the logic over ports, `wiring` builds the real adapters from config;
//! `report` draws the replay command's backtest report.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // production functions ≤ 80 lines (clippy.toml)

pub mod config;
pub mod handler;
pub mod report;
pub mod wiring;
