//! The strategy presets and the BUY/SELL rule.
//!
//! The preset table is the original's (strategy × risk approach → RSI thresholds, volume minimum, MA checks). This
//! walking-skeleton rule is the core of the original's: BUY when RSI is under the preset's `buyBelow` and the last
//! completed candle's volume ratio reaches `volumeMinRatio`; SELL when RSI is over the preset's `sellAbove` (the
//! original hard-coded 70 — we read the preset, deliberately) with the same volume gate; a BUY suppresses a SELL.
//! The MA trend checks, the throttle and the per-symbol overrides come with the evaluator's own issue.

use crate::ids::Side;
use crate::indicators::Indicators;

/// One row of the original's preset table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub buy_below: f64,
    pub sell_above: f64,
    pub volume_min_ratio: f64,
    pub min_price_change_pct: f64,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "swing-conservative",
        buy_below: 30.0,
        sell_above: 70.0,
        volume_min_ratio: 1.0,
        min_price_change_pct: 3.0,
    },
    Preset {
        name: "swing-aggressive",
        buy_below: 45.0,
        sell_above: 68.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
    },
    Preset {
        name: "intraday-conservative",
        buy_below: 45.0,
        sell_above: 70.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
    },
    Preset {
        name: "intraday-aggressive",
        buy_below: 50.0,
        sell_above: 65.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
    },
    Preset {
        name: "scalp-conservative",
        buy_below: 50.0,
        sell_above: 70.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
    },
    Preset {
        name: "scalp-aggressive",
        buy_below: 55.0,
        sell_above: 65.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
    },
];

/// Looks a preset up by name (`swing-aggressive`, any case; a bare `swing` means its conservative row, as the original).
pub fn preset(name: &str) -> Option<&'static Preset> {
    let lower = name.trim().to_ascii_lowercase();
    let full = if lower.contains('-') {
        lower
    } else {
        format!("{lower}-conservative")
    };
    PRESETS.iter().find(|p| p.name == full)
}

/// What the rule decided for the last closed candle, with the reason in words.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Signal { side: Side, reason: String },
    Wait,
}

pub fn decide(p: &Preset, ind: &Indicators) -> Verdict {
    let Some(vol) = ind.volume_ratio else {
        return Verdict::Wait; // no volume data → no signal (as the original)
    };
    let volume_ok = vol >= p.volume_min_ratio;
    let detail = format!(
        "RSI={:.2}, Price={}, MA50={:.6}, EMA10={:.6}, MA200={:.6}, Vol={:.2}x (min {}x)",
        ind.rsi, ind.price, ind.ma50, ind.ema10, ind.ma200, vol, p.volume_min_ratio
    );
    if ind.rsi < p.buy_below && volume_ok {
        return Verdict::Signal {
            side: Side::Buy,
            reason: format!("{} | RSI<{} | {detail}", p.name, p.buy_below),
        };
    }
    if ind.rsi > p.sell_above && volume_ok {
        return Verdict::Signal {
            side: Side::Sell,
            reason: format!("{} | RSI>{} | {detail}", p.name, p.sell_above),
        };
    }
    Verdict::Wait
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(rsi: f64, vol: Option<f64>) -> Indicators {
        Indicators {
            price: 1.0,
            rsi,
            ma50: 1.0,
            ma200: 1.0,
            ema10: 1.0,
            atr: None,
            volume_ratio: vol,
        }
    }

    #[test]
    fn thresholds_on_both_sides() {
        let p = preset("swing-aggressive").unwrap();
        assert!(matches!(
            decide(p, &ind(44.9, Some(0.5))),
            Verdict::Signal { side: Side::Buy, .. }
        ));
        assert_eq!(decide(p, &ind(45.0, Some(0.5))), Verdict::Wait);
        assert_eq!(decide(p, &ind(44.9, Some(0.49))), Verdict::Wait);
        assert!(matches!(
            decide(p, &ind(68.1, Some(1.0))),
            Verdict::Signal { side: Side::Sell, .. }
        ));
        assert_eq!(decide(p, &ind(68.0, Some(1.0))), Verdict::Wait);
        assert_eq!(decide(p, &ind(90.0, None)), Verdict::Wait);
    }

    #[test]
    fn preset_names() {
        assert_eq!(preset("SWING").unwrap().buy_below, 30.0);
        assert_eq!(preset("scalp-aggressive").unwrap().sell_above, 65.0);
        assert!(preset("yolo").is_none());
    }
}
