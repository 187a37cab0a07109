//! The pure domain of the signal-to-order system: identifiers, money with units, candles and indicators, the strategy
//! presets with the throttle, the one evaluation pipeline and the backtest (with its paper book), the orchestrator's state machine (claim → size → place → finalize),
//! the invariants report, the alert texts and outbox delivery, the risk guard and the kill switch, the Telegram
//! bot's commands, and the ports these speak through. It depends on no AWS, Lambda or HTTP crate (`cargo tree -p
//! domain` shows none): the `shared` crate implements the ports against DynamoDB, SQS, Secrets Manager, Crypto.com
//! and Telegram. `fakes` (feature `fakes`) holds in-memory ports for tests, simulation and benchmarks.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // production functions ≤ 60 lines (clippy.toml)

pub mod alerts;
pub mod backtest;
pub mod candles;
pub mod commands;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod ids;
pub mod indicators;
pub mod invariants;
pub mod metrics;
pub mod model;
pub mod money;
pub mod orchestration;
pub mod order;
pub mod paper_book;
pub mod pipeline;
pub mod ports;
pub mod risk;
pub mod strategy;
pub mod text;
pub mod trading;
