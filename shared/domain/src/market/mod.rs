//! The market: candles, the indicators over them, the strategy presets with the throttle, and the one evaluation
//! pipeline from a symbol's candles to a verdict.

pub mod candles;
pub mod indicators;
pub mod pipeline;
pub mod strategy;
