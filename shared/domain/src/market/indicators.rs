//! Technical indicators as the original system computes them (simple-mean RSI, SMA, EMA seeded with the first
//! close, ATR as a mean of true ranges, and the volume gate on 5-minute candles). Inputs are closed candles, oldest
//! first. Values are unrounded: the original rounds before deciding, the port decides on full precision (docs/STRATEGY.md;
//! `rounded_like_original` and `rounding-effect` measure the gap).

use crate::market::candles::Candle;

/// How RSI averages gains and losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsiMethod {
    /// The original system's: a simple mean of the last `period` changes. The default, because the presets'
    /// thresholds were tuned on it.
    #[default]
    Simple,
    /// Wilder's smoothing over the whole window (the textbook RSI), as an option.
    Wilder,
}

impl RsiMethod {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "simple" => Some(Self::Simple),
            "wilder" => Some(Self::Wilder),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::Wilder => "wilder",
        }
    }
}

/// RSI(period) with Wilder's smoothing: the first average is the simple mean of the first `period` changes, then
/// `avg = (avg * (period - 1) + change) / period`. Fewer than `period + 1` closes → 50; no losses → 100.
pub fn rsi_wilder(closes: &[f64], period: usize) -> f64 {
    if period == 0 || closes.len() < period + 1 {
        return 50.0;
    }
    let changes: Vec<f64> = closes.windows(2).map(|w| w[1] - w[0]).collect();
    let (first, rest) = changes.split_at(period);
    let mut gain = first.iter().filter(|d| **d > 0.0).sum::<f64>() / period as f64;
    let mut loss = -first.iter().filter(|d| **d < 0.0).sum::<f64>() / period as f64;
    for d in rest {
        gain = (gain * (period as f64 - 1.0) + d.max(0.0)) / period as f64;
        loss = (loss * (period as f64 - 1.0) + (-d).max(0.0)) / period as f64;
    }
    if loss == 0.0 {
        return 100.0;
    }
    100.0 - 100.0 / (1.0 + gain / loss)
}

/// RSI(period) with the original's simple mean of the last `period` gains and losses (not Wilder's smoothing).
/// Fewer than `period + 1` closes → 50 (neutral, as the original); no losses → 100.
pub fn rsi_simple(closes: &[f64], period: usize) -> f64 {
    if period == 0 || closes.len() < period + 1 {
        return 50.0;
    }
    let window = &closes[closes.len() - period - 1..];
    let (mut gain, mut loss) = (0.0, 0.0);
    for w in window.windows(2) {
        let d = w[1] - w[0];
        if d > 0.0 {
            gain += d;
        } else {
            loss -= d;
        }
    }
    let (avg_gain, avg_loss) = (gain / period as f64, loss / period as f64);
    if avg_loss == 0.0 {
        return 100.0;
    }
    100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
}

/// Mean of the last `n` closes (all of them when fewer, as the original's MA200 on short history).
pub fn sma(closes: &[f64], n: usize) -> Option<f64> {
    if closes.is_empty() || n == 0 {
        return None;
    }
    let w = &closes[closes.len().saturating_sub(n)..];
    Some(w.iter().sum::<f64>() / w.len() as f64)
}

/// EMA(n) seeded with the first value, k = 2 / (n + 1).
pub fn ema(values: &[f64], n: usize) -> Option<f64> {
    let (first, rest) = values.split_first()?;
    let k = 2.0 / (n as f64 + 1.0);
    Some(rest.iter().fold(*first, |acc, v| v * k + acc * (1.0 - k)))
}

/// ATR(period): mean of the last `period` true ranges.
pub fn atr(candles: &[Candle], period: usize) -> Option<f64> {
    if candles.len() < 2 || period == 0 {
        return None;
    }
    let trs: Vec<f64> = candles
        .windows(2)
        .map(|w| {
            let (prev, c) = (w[0].close, w[1]);
            (c.high - c.low).max((c.high - prev).abs()).max((c.low - prev).abs())
        })
        .collect();
    let w = &trs[trs.len().saturating_sub(period)..];
    Some(w.iter().sum::<f64>() / w.len() as f64)
}

/// Completed 5-minute candles the volume gate reads: the current one, the five before it for the average, and the
/// eleven that end with it for the baseline. (The original fetches 288 and reads no further back than this.)
pub const VOLUME_CANDLES: usize = 11;

/// The original's volume gate (`calculate_volume_index`, period 5) over completed 5-minute candles, oldest first:
/// the current volume is the newest; the average is an EMA (k = 2/6, seeded with its first value) of the six volumes
/// that end with it; when at least 3 of the last 4 volumes exceed 1.5 × the mean of the last 11 (a sustained surge),
/// the average becomes at least 0.8 × that mean; both are rounded to 2 decimals before the ratio is taken.
/// None ("no volume data", so no signal) with fewer than six candles or an average that rounds to zero; the
/// original's fallback of a 24-hour volume for both (ratio 1, a gate that always passes) is deliberately not taken.
/// The baseline needs all 11 volumes; with 6 to 10 it is left out.
pub fn volume_index(five_min: &[Candle]) -> Option<f64> {
    const PERIOD: usize = 5;
    let vols: Vec<f64> = five_min.iter().map(|c| c.volume).collect();
    let n = vols.len();
    if n < PERIOD + 1 {
        return None;
    }
    let current = vols[n - 1];
    let mut average = ema(&vols[n - PERIOD - 1..], PERIOD)?;
    if n >= VOLUME_CANDLES {
        let mean = vols[n - VOLUME_CANDLES..].iter().sum::<f64>() / VOLUME_CANDLES as f64;
        let surging = vols[n - 4..].iter().filter(|v| **v > 1.5 * mean).count();
        if surging >= 3 {
            average = average.max(0.8 * mean);
        }
    }
    let (current, average) = (round_to(current, 2), round_to(average, 2));
    (average > 0.0).then(|| current / average)
}

/// `v` rounded to `decimals` as Python's `round` does (the original's): on the exact binary value, ties to even —
/// which is how Rust formats with a precision. `(v * 10^d).round()` would differ where `v * 10^d` rounds.
fn round_to(v: f64, decimals: usize) -> f64 {
    format!("{v:.decimals$}").parse().unwrap_or(v)
}

/// Fewer candles than this and the original uses its defaults instead of computed averages.
pub const SHORT_HISTORY: usize = 50;

/// MA10w needs this many daily candles; with fewer, the 70-candle fallback stays (as the original).
pub const MA10W_MIN_DAYS: usize = 50;

/// MA10w (the mean of the last 70 daily closes) when there are enough daily candles.
pub fn ma10w_daily(daily: &[Candle]) -> Option<f64> {
    if daily.len() < MA10W_MIN_DAYS {
        return None;
    }
    sma(&daily.iter().map(|c| c.close).collect::<Vec<_>>(), 70)
}

/// The indicator set the strategy reads, computed over closed candles.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicators {
    pub price: f64,
    pub rsi: f64,
    pub ma50: f64,
    pub ma200: f64,
    pub ema10: f64,
    /// MA10w's fallback without 50 daily candles: the mean of the last 70 closes (as the original).
    pub ma10w: f64,
    pub atr: Option<f64>,
    pub volume_ratio: Option<f64>,
}

impl Indicators {
    /// None for an empty series. `volume_ratio` is the volume gate's, from its own candles (`volume_index`).
    pub fn compute(candles: &[Candle], volume_ratio: Option<f64>) -> Option<Self> {
        Self::compute_with(candles, RsiMethod::Simple, volume_ratio)
    }

    pub fn compute_with(candles: &[Candle], rsi: RsiMethod, volume_ratio: Option<f64>) -> Option<Self> {
        let closes: Vec<f64> = candles.iter().map(|c| c.close).collect();
        let price = *closes.last()?;
        if closes.len() < SHORT_HISTORY {
            // The original's defaults for a short history: neutral RSI, averages at the price, ATR 2 % of it.
            return Some(Self {
                price,
                rsi: 50.0,
                ma50: price,
                ma200: price,
                ema10: price,
                ma10w: price,
                atr: Some(price * 0.02),
                volume_ratio,
            });
        }
        Some(Self {
            price: *closes.last()?,
            rsi: match rsi {
                RsiMethod::Simple => rsi_simple(&closes, 14),
                RsiMethod::Wilder => rsi_wilder(&closes, 14),
            },
            ma50: sma(&closes, 50)?,
            ma200: sma(&closes, 200)?,
            ema10: ema(&closes, 10)?,
            ma10w: sma(&closes, 70)?,
            atr: atr(candles, 14),
            volume_ratio,
        })
    }

    /// These values rounded as the original system rounds them before deciding: RSI to 2 decimals, the moving
    /// averages and ATR by magnitude (2 decimals above 1, 6 from 0.01 to 1, 10 below 0.01); price and volume ratio
    /// as they are. The port decides on the unrounded values (see docs/STRATEGY.md); this is for measuring
    /// what that changes (`rounding-effect`).
    pub fn rounded_like_original(&self) -> Self {
        fn by_magnitude(v: f64) -> f64 {
            let decimals = match v.abs() {
                a if a > 1.0 => 2,
                a if a >= 0.01 => 6,
                _ => 10,
            };
            round_to(v, decimals)
        }
        Self {
            price: self.price,
            rsi: round_to(self.rsi, 2),
            ma50: by_magnitude(self.ma50),
            ma200: by_magnitude(self.ma200),
            ema10: by_magnitude(self.ema10),
            ma10w: by_magnitude(self.ma10w),
            atr: self.atr.map(by_magnitude),
            volume_ratio: self.volume_ratio,
        }
    }

    pub fn as_map(&self) -> std::collections::BTreeMap<String, f64> {
        let mut m = std::collections::BTreeMap::new();
        m.insert("price".into(), self.price);
        m.insert("rsi".into(), self.rsi);
        m.insert("ma50".into(), self.ma50);
        m.insert("ma200".into(), self.ma200);
        m.insert("ema10".into(), self.ema10);
        m.insert("ma10w".into(), self.ma10w);
        if let Some(a) = self.atr {
            m.insert("atr".into(), a);
        }
        if let Some(v) = self.volume_ratio {
            m.insert("volume_ratio".into(), v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(v: &[f64]) -> Vec<f64> {
        v.to_vec()
    }

    #[test]
    fn rounding_like_the_original_goes_by_magnitude() {
        let ind = Indicators {
            price: 1.23456,
            rsi: 29.996,
            ma50: 1.23456,
            ma200: 0.0123456789,
            ema10: 0.000012345678912,
            ma10w: 50_000.456,
            atr: Some(0.5),
            volume_ratio: Some(1.23456),
        };
        let r = ind.rounded_like_original();
        assert_eq!((r.rsi, r.ma50, r.ma200, r.ma10w), (30.0, 1.23, 0.012346, 50_000.46));
        assert!((r.ema10 - 0.0000123457).abs() < 1e-15, "{}", r.ema10);
        assert_eq!((r.price, r.volume_ratio, r.atr), (1.23456, Some(1.23456), Some(0.5)));
    }

    #[test]
    fn rsi_matches_hand_computation() {
        // 15 closes: gains 1 on 10 steps, losses 2 on 4 steps → avg_gain 10/14, avg_loss 8/14, RS 1.25.
        let mut c = vec![100.0];
        for i in 0..14 {
            let last = *c.last().unwrap();
            c.push(if i % 7 < 5 { last + 1.0 } else { last - 2.0 });
        }
        let expected = 100.0 - 100.0 / (1.0 + 10.0 / 8.0);
        assert!((rsi_simple(&c, 14) - expected).abs() < 1e-9);
        assert_eq!(rsi_simple(&close(&[1.0, 2.0]), 14), 50.0);
        assert_eq!(rsi_simple(&(0..20).map(f64::from).collect::<Vec<_>>(), 14), 100.0);
    }

    #[test]
    fn wilder_rsi_matches_hand_computation() {
        // period 2 over 2, 3, 2, 4: changes +1, -1, +2. First averages (1 + 0)/2, (0 + 1)/2 = 0.5, 0.5; then
        // gain (0.5 + 2)/2 = 1.25, loss (0.5 + 0)/2 = 0.25 → RS 5 → RSI 100 - 100/6.
        let rsi = rsi_wilder(&[2.0, 3.0, 2.0, 4.0], 2);
        assert!((rsi - (100.0 - 100.0 / 6.0)).abs() < 1e-12, "{rsi}");
        // The simple mean of the last two changes (-1, +2) gives RS 2 instead.
        assert!((rsi_simple(&[2.0, 3.0, 2.0, 4.0], 2) - (100.0 - 100.0 / 3.0)).abs() < 1e-12);
        assert_eq!(rsi_wilder(&[1.0, 2.0], 14), 50.0);
        assert_eq!(RsiMethod::parse("Wilder"), Some(RsiMethod::Wilder));
    }

    #[test]
    fn short_history_uses_the_original_defaults_and_ma10w_needs_50_days() {
        let c = |close: f64| Candle {
            open_ms: 0,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
        };
        let short: Vec<Candle> = (0..49).map(|i| c(100.0 + f64::from(i))).collect();
        let ind = Indicators::compute(&short, None).unwrap();
        assert_eq!(
            (ind.rsi, ind.ma50, ind.ma200, ind.ema10, ind.atr),
            (50.0, 148.0, 148.0, 148.0, Some(148.0 * 0.02))
        );
        let long: Vec<Candle> = (0..50).map(|i| c(100.0 + f64::from(i))).collect();
        let ind = Indicators::compute(&long, None).unwrap();
        assert_eq!((ind.rsi, ind.ma50), (100.0, 124.5), "computed from 50 candles on");
        assert_eq!(ma10w_daily(&short), None);
        assert_eq!(ma10w_daily(&long), Some(124.5), "all 50 days when fewer than 70");
    }

    #[test]
    fn averages_use_what_history_there_is() {
        assert_eq!(sma(&[1.0, 2.0, 3.0], 200), Some(2.0));
        assert_eq!(sma(&[1.0, 2.0, 3.0, 5.0], 2), Some(4.0));
        // EMA(3): k = 0.5; 2 → 0.5*4+0.5*2 = 3 → 0.5*8+0.5*3 = 5.5
        assert_eq!(ema(&[2.0, 4.0, 8.0], 3), Some(5.5));
        assert_eq!(ema(&[], 3), None);
    }

    fn five_min(vols: &[f64]) -> Vec<Candle> {
        vols.iter()
            .enumerate()
            .map(|(i, v)| Candle {
                open_ms: i as i64 * 300_000,
                open: 1.0,
                high: 1.0,
                low: 1.0,
                close: 1.0,
                volume: *v,
            })
            .collect()
    }

    #[test]
    fn volume_gate_is_the_current_volume_over_an_ema_of_six_rounded_to_cents() {
        // EMA(5) over 2, 2, 2, 2, 2, 3: k = 1/3 → 2 + (3 - 2)/3 = 2.333… → 2.33; current 3.00.
        assert_eq!(
            volume_index(&five_min(&[2.0, 2.0, 2.0, 2.0, 2.0, 3.0])),
            Some(3.0 / 2.33)
        );
        // Older candles do not move it without a surge.
        let longer = five_min(&[50.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0]);
        assert_eq!(volume_index(&longer), Some(3.0 / 2.33));
        assert_eq!(volume_index(&five_min(&[2.0; 5])), None, "six candles needed");
        assert_eq!(volume_index(&five_min(&[0.0; 12])), None, "no volume at all: no data");
        assert_eq!(
            volume_index(&five_min(&[0.004; 6])),
            None,
            "an average that rounds to zero: no data"
        );
    }

    #[test]
    fn rounds_as_python_does() {
        // Python: round(2.675, 2) == 2.67 (the double is 2.67499…), round(0.125, 2) == 0.12 (a tie, to even),
        // round(0.375, 2) == 0.38, round(2.5, 0) == 2.0.
        assert_eq!(round_to(2.675, 2), 2.67);
        assert_eq!(round_to(0.125, 2), 0.12);
        assert_eq!(round_to(0.375, 2), 0.38);
        assert_eq!(round_to(2.5, 0), 2.0);
        assert_eq!(round_to(1234.5678, 2), 1234.57);
    }

    #[test]
    fn volume_gate_raises_the_average_to_the_baseline_in_a_sustained_surge() {
        // Mean of the 11: 113.5 / 11 = 10.318…; 15.5 > 1.5 × mean three times in the last four → average at least
        // 0.8 × mean = 8.2545 → 8.25, above the EMA 7.938 → 7.94. Current 2.00.
        let vols = [13.0, 13.0, 13.0, 13.0, 13.0, 0.0, 0.0, 15.5, 15.5, 15.5, 2.0];
        assert_eq!(volume_index(&five_min(&vols)), Some(2.0 / 8.25));
        // The same six without the older five: no baseline, the EMA alone.
        assert_eq!(volume_index(&five_min(&vols[5..])), Some(2.0 / 7.94));
        // Volumes at 1.45 × the mean (10.0) are not a surge: the EMA 7.469 → 7.47 stays.
        let high = [12.9, 12.9, 12.9, 12.9, 12.9, 0.0, 0.0, 14.5, 14.5, 14.5, 2.0];
        assert_eq!(volume_index(&five_min(&high)), Some(2.0 / 7.47));
        // Two surging volumes of four are not a sustained surge.
        let two = [13.0, 13.0, 13.0, 13.0, 13.0, 0.0, 0.0, 15.5, 15.5, 2.0, 2.0];
        let ema = [0.0, 0.0, 15.5, 15.5, 2.0, 2.0]
            .iter()
            .skip(1)
            .fold(0.0, |acc, v| v / 3.0 + acc * 2.0 / 3.0);
        assert_eq!(volume_index(&five_min(&two)), Some(2.0 / round_to(ema, 2)));
    }
}
