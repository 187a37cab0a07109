//! Replay of a whole candle history through the evaluator's own strategy code (`strategy::evaluate_candles`, the
//! preset rule and the throttle), without AWS: one indicators entry per closed candle once enough history exists,
//! the decision before the throttle, and the signals with whether the throttle held them back. `paper_book` trades those signals on paper.

pub mod paper_book;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::ids::{Side, Symbol};
use crate::market::candles::{resample, Candle, Timeframe};
use crate::market::indicators::{Indicators, VOLUME_CANDLES};
use crate::market::strategy::{self, Emission, Preset, Verdict};

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

/// A candle history as the evaluator sees it at each close of a timeframe: the last `candle_count` closed candles,
/// the volume gate's 5-minute candles and the daily candles for MA10w, each closed at that instant. The evaluator
/// function reads the same three from its market data; the replay command and the measurements read them here.
pub struct History {
    series: Vec<Candle>,
    five_min: Vec<Candle>,
    daily: Vec<Candle>,
    timeframe: Timeframe,
    candle_count: usize,
}

/// One close of the history's timeframe.
#[derive(Debug, Clone, Copy)]
pub struct Moment<'a> {
    /// Up to `candle_count` closed candles, the newest last.
    pub window: &'a [Candle],
    pub five_min: &'a [Candle],
    pub daily: &'a [Candle],
}

impl History {
    /// `candles` of any granularity at or below `timeframe` (resampled).
    pub fn new(candles: &[Candle], timeframe: Timeframe, candle_count: usize) -> Self {
        Self {
            series: resample(candles, timeframe),
            five_min: five_minute_series(candles),
            daily: resample(candles, Timeframe::D1),
            timeframe,
            candle_count,
        }
    }

    pub fn moments(&self) -> impl Iterator<Item = Moment<'_>> {
        (1..=self.series.len()).map(|end| {
            let window = &self.series[end.saturating_sub(self.candle_count)..end];
            let closes_at = window[window.len() - 1].open_ms + self.timeframe.millis();
            Moment {
                window,
                five_min: closed_as_of(&self.five_min, Timeframe::M5, closes_at, VOLUME_CANDLES),
                daily: closed_as_of(
                    &self.daily,
                    Timeframe::D1,
                    closes_at,
                    crate::market::pipeline::DAILY_CANDLES,
                ),
            }
        })
    }
}

impl Moment<'_> {
    /// Open time of the newest candle.
    pub fn open_ms(&self) -> i64 {
        self.window[self.window.len() - 1].open_ms
    }

    /// The evaluator's indicators and verdict here, through the evaluator's own pipeline (`crate::pipeline`) over
    /// the candles in memory; None without enough history.
    pub fn evaluate(&self, p: &Preset) -> Option<(Indicators, Verdict)> {
        // The candles are in memory: the pipeline's future is ready at its first poll.
        let (ind, verdict) = futures::executor::block_on(crate::market::pipeline::evaluate(p, self.window, self))?;
        // The report shows the volume gate's ratio at every candle, also where the decision did not need it.
        let volume_ratio = ind
            .volume_ratio
            .or_else(|| crate::market::indicators::volume_index(self.five_min));
        Some((Indicators { volume_ratio, ..ind }, verdict))
    }
}

#[async_trait::async_trait]
impl crate::market::pipeline::MoreCandles for Moment<'_> {
    async fn five_min(&self) -> Vec<Candle> {
        self.five_min.to_vec()
    }
    async fn daily(&self) -> Option<Vec<Candle>> {
        Some(self.daily.to_vec())
    }
}

/// Runs `candles` (any granularity at or below the timeframe; resampled) as the evaluator would, candle by candle.
pub fn run(symbol: &Symbol, candles: &[Candle], s: &BacktestSettings<'_>) -> Backtest {
    let history = History::new(candles, s.timeframe, s.candle_count);
    let mut out = Backtest {
        symbol: symbol.to_string(),
        preset: s.preset.name,
        timeframe: s.timeframe.as_str(),
        indicators: Vec::new(),
        signals: Vec::new(),
    };
    let (mut last_buy, mut last_sell): (Option<Emission>, Option<Emission>) = (None, None);
    for moment in history.moments() {
        let Some((ind, verdict)) = moment.evaluate(s.preset) else {
            continue;
        };
        let t = moment.open_ms();
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
        if !gate.holds_back() {
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
            throttled: gate.holds_back(),
            reason: if gate.holds_back() { gate.to_string() } else { reason },
        });
    }
    out
}

/// The volume gate's 5-minute series: a file of 5-minute (or finer, resampled) candles; none from a coarser file,
/// which leaves the gate without data (no signal) rather than passing hourly candles off as 5-minute ones.
fn five_minute_series(candles: &[Candle]) -> Vec<Candle> {
    match crate::market::candles::finest_step_ms(candles) {
        Some(step) if step <= Timeframe::M5.millis() => resample(candles, Timeframe::M5),
        _ => Vec::new(),
    }
}

/// The last `count` of `series` (ascending `tf` candles) that closed at or before `as_of_ms`.
fn closed_as_of(series: &[Candle], tf: Timeframe, as_of_ms: i64, count: usize) -> &[Candle] {
    let end = series.partition_point(|c| c.open_ms + tf.millis() <= as_of_ms);
    &series[end.saturating_sub(count)..end]
}
