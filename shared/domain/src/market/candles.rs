//! OHLCV candles, the timeframes the strategy runs on, and resampling of finer candles to a coarser timeframe.
//!
//! Replayed history is not a perfect grid (minutes go missing, illiquid minutes are flat with zero volume), so
//! resampling buckets by open time and never assumes a fixed count of source candles per bucket.

use serde::Deserialize;

/// One candle; `open_ms` is the candle's open time (UTC, ms). Indicators use f64; money never does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    pub open_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Candle {
    fn is_sane(&self) -> bool {
        [self.open, self.high, self.low, self.close, self.volume]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0)
            && self.close > 0.0
            && self.open_ms >= 0
    }
}

/// Candle timeframes by their Crypto.com names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeframe {
    M1,
    M5,
    M15,
    M30,
    H1,
    H2,
    H4,
    H12,
    D1,
}

impl Timeframe {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw.trim() {
            "1m" => Self::M1,
            "5m" => Self::M5,
            "15m" => Self::M15,
            "30m" => Self::M30,
            "1h" => Self::H1,
            "2h" => Self::H2,
            "4h" => Self::H4,
            "12h" => Self::H12,
            "1D" | "1d" => Self::D1,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "1m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::M30 => "30m",
            Self::H1 => "1h",
            Self::H2 => "2h",
            Self::H4 => "4h",
            Self::H12 => "12h",
            Self::D1 => "1D",
        }
    }

    pub fn millis(self) -> i64 {
        const MIN: i64 = 60_000;
        match self {
            Self::M1 => MIN,
            Self::M5 => 5 * MIN,
            Self::M15 => 15 * MIN,
            Self::M30 => 30 * MIN,
            Self::H1 => 60 * MIN,
            Self::H2 => 120 * MIN,
            Self::H4 => 240 * MIN,
            Self::H12 => 720 * MIN,
            Self::D1 => 1440 * MIN,
        }
    }

    /// Open time of the bucket that contains `t_ms`.
    pub fn bucket_of(self, t_ms: i64) -> i64 {
        t_ms - t_ms.rem_euclid(self.millis())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CandleFileError {
    #[error("candle file is not a JSON array of [open_time_ms, open, high, low, close, volume] rows: {0}")]
    Json(#[from] serde_json::Error),
    #[error("candle row {index} is not usable (non-finite, negative or zero close): {row:?}")]
    BadRow { index: usize, row: Vec<f64> },
}

/// Parses the replay row format (`[[open_time_ms, open, high, low, close, volume], ...]`), sorted by open time.
pub fn parse_rows(json: &str) -> Result<Vec<Candle>, CandleFileError> {
    #[derive(Deserialize)]
    struct Row(f64, f64, f64, f64, f64, f64);
    let rows: Vec<Row> = serde_json::from_str(json)?;
    let mut out = Vec::with_capacity(rows.len());
    for (index, Row(t, o, h, l, c, v)) in rows.into_iter().enumerate() {
        let candle = Candle {
            open_ms: t as i64,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v,
        };
        if !candle.is_sane() || t.fract() != 0.0 {
            return Err(CandleFileError::BadRow {
                index,
                row: vec![t, o, h, l, c, v],
            });
        }
        out.push(candle);
    }
    out.sort_by_key(|c| c.open_ms);
    out.dedup_by_key(|c| c.open_ms);
    Ok(out)
}

/// The smallest step between consecutive candles of an ascending series: the finest timeframe it can serve. None
/// for fewer than two candles.
pub fn finest_step_ms(candles: &[Candle]) -> Option<i64> {
    candles.windows(2).map(|w| w[1].open_ms - w[0].open_ms).min()
}

/// Aggregates ascending candles into `tf` buckets (open of the first, max high, min low, close of the last, summed
/// volume). Buckets with no source candle are absent: a gap stays a gap.
pub fn resample(candles: &[Candle], tf: Timeframe) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for c in candles {
        let bucket = tf.bucket_of(c.open_ms);
        match out.last_mut() {
            Some(last) if last.open_ms == bucket => {
                last.high = last.high.max(c.high);
                last.low = last.low.min(c.low);
                last.close = c.close;
                last.volume += c.volume;
            }
            _ => out.push(Candle { open_ms: bucket, ..*c }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exponent_floats_and_refuses_garbage() {
        let c = parse_rows("[[1516579200000, 5.352e-05, 6e-05, 5e-05, 5.5e-05, 0.0]]").unwrap();
        assert_eq!(c[0].close, 5.5e-05);
        assert!(parse_rows("[[1, 1, 1, 1, -1, 1]]").is_err());
        assert!(parse_rows("{\"o\": 1}").is_err());
    }

    #[test]
    fn resampling_tolerates_gaps_and_flat_candles() {
        let m = 60_000;
        let c = |t: i64, p: f64, v: f64| Candle {
            open_ms: t,
            open: p,
            high: p + 1.0,
            low: p - 1.0,
            close: p,
            volume: v,
        };
        // 5m candles: 00:00, 00:05, (00:10 missing), 00:55, then 01:00 and a flat zero-volume 02:05.
        let src = vec![
            c(0, 10.0, 1.0),
            c(5 * m, 12.0, 2.0),
            c(55 * m, 11.0, 0.0),
            c(60 * m, 20.0, 3.0),
            c(125 * m, 7.0, 0.0),
        ];
        let h = resample(&src, Timeframe::H1);
        assert_eq!(h.len(), 3, "the empty 01:xx-02:00 hour is not invented");
        assert_eq!(
            (h[0].open, h[0].high, h[0].low, h[0].close, h[0].volume),
            (10.0, 13.0, 9.0, 11.0, 3.0)
        );
        assert_eq!(h[2].open_ms, 120 * m);
        assert_eq!(h[2].volume, 0.0);
        assert_eq!(
            finest_step_ms(&src),
            Some(5 * m),
            "the smallest step, whatever the gaps"
        );
        assert_eq!(finest_step_ms(&src[..1]), None);
    }
}
