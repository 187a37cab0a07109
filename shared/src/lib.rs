//! The adapters and the per-function configuration over the pure domain (the `domain` crate, re-exported here so
//! that `shared::ids`, `shared::order`, … name the same modules): `adapters` implements the domain's `ports` against
//! DynamoDB, SQS, Secrets Manager, Crypto.com (with its request signing, `signing`, and error classification,
//! `classify`), Telegram, the paper exchange and replayed candles; `config` reads each function's settings at init;
//! `telemetry` sets up the JSON logs.

pub use domain::{
    backtest, commands, decision, flow, ids, market, messages, money, order, outbox, ports, report, risk, signal, text,
    time, watchlist,
};

#[cfg(feature = "fakes")]
pub use domain::fakes;

pub mod adapters;
pub mod config;
pub mod page_link;
pub mod telemetry;
