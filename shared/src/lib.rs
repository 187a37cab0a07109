//! Domain, ports and adapters shared by the four functions.
//!
//! Pure domain modules (`ids`, `model`, `candles`, `indicators`, `strategy`, `orchestration`, `invariants`) depend on
//! no AWS or Lambda crate; `adapters` implements the `ports` against DynamoDB, SQS, Secrets Manager, the paper
//! exchange and replayed candles; `fakes` holds in-memory implementations for tests and simulation.

pub mod adapters;
pub mod alerts;
pub mod backtest;
pub mod candles;
pub mod classify;
pub mod commands;
pub mod config;
pub mod fakes;
pub mod ids;
pub mod indicators;
pub mod invariants;
pub mod metrics;
pub mod model;
pub mod money;
pub mod orchestration;
pub mod ports;
pub mod risk;
pub mod signing;
pub mod strategy;
pub mod telemetry;
pub mod trading;
