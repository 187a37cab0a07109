//! Replay of a whole candle history through the evaluator's own strategy code (`strategy::evaluate_candles`, the
//! preset rule and the throttle), without AWS: one indicators entry per closed candle once enough history exists,
//! the decision before the throttle, and the signals with whether the throttle held them back.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::candles::{resample, Candle, Timeframe};
use crate::ids::{Side, Symbol};
use crate::model::Emission;
use crate::strategy::{self, Preset, Verdict};

#[derive(Debug, Clone, Copy)]
pub struct BacktestSettings<'a> {
    pub preset: &'a Preset,
    pub timeframe: Timeframe,
    /// Closed candles the evaluator reads per run (its `CANDLE_COUNT`).
    pub candle_count: usize,
    /// The watchlist's throttle settings: cooldown in market time and minimum price change.
    pub cooldown_ms: i64,
    pub min_price_change_pct: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorRow {
    pub t: i64,
    pub close: f64,
    pub rsi: f64,
    pub ma50: f64,
    pub ma200: f64,
    pub ema10: f64,
    pub atr: Option<f64>,
    pub volume_ratio: Option<f64>,
    pub decision: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SignalRow {
    pub t: i64,
    pub side: Side,
    pub price: String,
    pub throttled: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Backtest {
    pub symbol: String,
    pub preset: &'static str,
    pub timeframe: &'static str,
    pub indicators: Vec<IndicatorRow>,
    pub signals: Vec<SignalRow>,
}

/// Runs `candles` (any granularity at or below the timeframe; resampled) as the evaluator would, candle by candle.
pub fn run(symbol: &Symbol, candles: &[Candle], s: &BacktestSettings<'_>) -> Backtest {
    let series = resample(candles, s.timeframe);
    let daily = resample(candles, Timeframe::D1);
    let mut out = Backtest {
        symbol: symbol.to_string(),
        preset: s.preset.name,
        timeframe: s.timeframe.as_str(),
        indicators: Vec::new(),
        signals: Vec::new(),
    };
    let (mut last_buy, mut last_sell): (Option<Emission>, Option<Emission>) = (None, None);
    for end in 1..=series.len() {
        let window = &series[end.saturating_sub(s.candle_count)..end];
        let Some((ind, verdict)) = strategy::evaluate_candles(s.preset, window).map(|(ind, verdict)| {
            let closes_at = window[window.len() - 1].open_ms + s.timeframe.millis();
            let end = daily.partition_point(|d| d.open_ms + Timeframe::D1.millis() <= closes_at);
            strategy::with_daily_ma10w(s.preset, ind, verdict, &daily[end.saturating_sub(75)..end])
        }) else {
            continue;
        };
        let t = window[window.len() - 1].open_ms;
        out.indicators.push(IndicatorRow {
            t,
            close: ind.price,
            rsi: ind.rsi,
            ma50: ind.ma50,
            ma200: ind.ma200,
            ema10: ind.ema10,
            atr: ind.atr,
            volume_ratio: ind.volume_ratio,
            decision: match &verdict {
                Verdict::Signal { side: Side::Buy, .. } => "BUY",
                Verdict::Signal { side: Side::Sell, .. } => "SELL",
                Verdict::Wait => "WAIT",
            },
        });
        let Verdict::Signal { side, reason } = verdict else {
            continue;
        };
        let price = strategy::price_decimal(ind.price).unwrap_or(Decimal::ZERO);
        let last = if side == Side::Buy {
            &mut last_buy
        } else {
            &mut last_sell
        };
        let gate = strategy::throttle(last.as_ref(), t, price, s.cooldown_ms, s.min_price_change_pct);
        if gate.is_ok() {
            *last = Some(Emission {
                candle_open_ms: t,
                price,
                signal_id: None,
                claimed_at_ms: None,
                claim_token: None,
            });
        }
        out.signals.push(SignalRow {
            t,
            side,
            price: price.to_string(),
            throttled: gate.is_err(),
            reason: gate.err().unwrap_or(reason),
        });
    }
    out
}
