//! The one evaluation pipeline: from a symbol's closed candles to the strategy's indicators and verdict, reading the
//! extra candles only when they can change the outcome — the 5-minute ones when the RSI is outside the preset's band
//! (the volume gate can decide), the daily ones when a SELL turns on MA10w. The evaluator fetches them on demand
//! from the exchange; the replay and the backtest slice them from memory (`backtest::Moment`). Both run this code.

use async_trait::async_trait;

use crate::market::candles::Candle;
use crate::market::indicators::Indicators;
use crate::market::strategy::{self, Preset, Verdict};

/// How many closed daily candles MA10w is computed from (ten weeks and a margin).
pub const DAILY_CANDLES: usize = 75;

/// Where the pipeline's extra candles come from, asked for at most once each.
#[async_trait]
pub trait MoreCandles: Sync {
    /// The last closed 5-minute candles (`indicators::VOLUME_CANDLES`); none to be had is no volume data.
    async fn five_min(&self) -> Vec<Candle>;
    /// The last [`DAILY_CANDLES`] closed daily candles; None when they cannot be read (MA10w then falls back to
    /// the timeframe's candles).
    async fn daily(&self) -> Option<Vec<Candle>>;
}

/// The indicators and the verdict for the newest of `window` (closed candles of the timeframe, the newest last);
/// None without enough history.
pub async fn evaluate(p: &Preset, window: &[Candle], more: &dyn MoreCandles) -> Option<(Indicators, Verdict)> {
    let (ind, verdict) = strategy::evaluate_candles(p, window, &[])?;
    if !strategy::volume_can_decide(p, &ind) {
        return Some((ind, verdict)); // RSI inside the band: no signal whatever the volume
    }
    let (ind, verdict) = strategy::with_volume(p, ind, &more.five_min().await);
    if !strategy::sell_hinges_on_ma10w(p, &ind) {
        return Some((ind, verdict));
    }
    Some(match more.daily().await {
        Some(daily) => strategy::with_daily_ma10w(p, ind, verdict, &daily),
        None => (ind, verdict),
    })
}
