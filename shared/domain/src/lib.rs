//! The pure domain of the signal-to-order system, one module per subject, each depending only on the ones listed
//! before it (docs/DESIGN.md §16 draws the graph; `tests/module_graph.rs` fails on any cycle):
//!
//! - the vocabulary: `ids`, `text`, `time`, `wire` (the wire enums' shape), `money` with units;
//! - `outbox` (the alerts outbox's rows and their typed ids) and `decision` (the decision trace and reason codes);
//! - `market`: candles, indicators, the strategy presets with the throttle, the one evaluation pipeline;
//! - `risk`: the limits, the counters and the kill switch's state;
//! - `order`: the order intent, what the exchange reports of its fill, its protection, the positions ledger;
//! - `signal` (the signal row and the queue message), `watchlist` (per-symbol settings), `messages` (the texts);
//! - `backtest` (with its paper book);
//! - `ports`: the traits the world is reached through;
//! - `flow`: what runs over the ports — the orchestrator's state machine (claim → size → place → finalize), the
//!   fill's follow-up, the protection, the breakers, the kill switch's commands, the ghost check, outbox delivery;
//! - `report` (the invariants report and its metrics) and `commands` (the Telegram bot's).
//!
//! It depends on no AWS, Lambda or HTTP crate (`cargo tree -p domain` shows none): the `shared` crate implements the
//! ports against DynamoDB, SQS, Secrets Manager, Crypto.com and Telegram. `fakes` (feature `fakes`) holds in-memory
//! ports for tests, simulation and benchmarks.

pub mod ids;
pub mod money;
pub mod text;
pub mod time;
pub(crate) mod wire;

pub mod decision;
pub mod outbox;

pub mod backtest;
pub mod market;
pub mod messages;
pub mod order;
pub mod risk;
pub mod signal;
pub mod watchlist;

pub mod commands;
pub mod flow;
pub mod ports;
pub mod report;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
