//! The strategy presets and the BUY/SELL rule, ported from the original system.
//!
//! BUY: RSI under the preset's `buyBelow`, the preset's MA checks, and the volume gate (the last completed 5-minute
//! candle's volume over the original's average, `indicators::volume_index`) at least `volumeMinRatio`. MA checks:
//! with EMA10 and MA50 both checked, MA50 must be above EMA10 (the short average dipped under the trend), a flat
//! market passing — with a *relative* tolerance of 0.01 % where the original used an
//! absolute 0.0001 that let every low-priced pair through; with only MA50 (or only EMA10) checked, the price may be
//! at most 0.5 % below it (5 % for scalp's EMA10); MA200 checked: at most 0.5 % below MA200.
//! SELL: RSI over the preset's **`sellAbove`** (the original hard-coded 70 — we read the preset, deliberately), the
//! volume gate, and where MA50 is checked a trend reversal: EMA10 under MA50 by 0.5 % of their mean, or the price
//! under MA10w — from 50+ daily candles when the decision turns on it, else the original's 70-candle fallback).
//! A BUY suppresses a SELL.
//! Not ported: swing-conservative's extra trend filter and RSI confirmation, which contradict its own BUY rule (the
//! original could never buy with that preset); every preset uses the rule above. MA10w is the 70-candle fallback the
//! original uses without 50 daily candles (hourly closes here).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::ids::Side;
use crate::market::candles::Candle;
use crate::market::indicators::{Indicators, RsiMethod};

/// One row of the original's preset table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub buy_below: f64,
    pub sell_above: f64,
    pub volume_min_ratio: f64,
    pub min_price_change_pct: f64,
    /// `maChecks`: EMA10, MA50, MA200.
    pub check_ema10: bool,
    pub check_ma50: bool,
    pub check_ma200: bool,
    /// How far under EMA10 the price may be for a BUY when EMA10 is the only average checked (a fraction: the
    /// original lets scalp presets buy 5 % under it, the others 0.5 %).
    pub ema10_tolerance: f64,
    /// A watchlist `buy_target`: BUY only at or under this price (None in the table).
    pub buy_target: Option<f64>,
    /// How RSI is computed (the original's simple mean in the table; Wilder's as a watchlist option).
    pub rsi: RsiMethod,
    /// The stop-loss and take-profit distance from the average fill price, in percent (the original's 3 for
    /// conservative presets, 2 for aggressive ones), unless the watchlist row sets its own.
    pub protection_pct: rust_decimal::Decimal,
}

impl Preset {
    /// The preset with a symbol's watchlist overrides applied.
    pub fn with_overrides(
        &self,
        buy_target: Option<f64>,
        volume_min_ratio: Option<f64>,
        rsi: Option<RsiMethod>,
    ) -> Preset {
        Preset {
            buy_target: buy_target.or(self.buy_target),
            volume_min_ratio: volume_min_ratio.unwrap_or(self.volume_min_ratio),
            rsi: rsi.unwrap_or(self.rsi),
            ..*self
        }
    }
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "swing-conservative",
        buy_below: 30.0,
        sell_above: 70.0,
        volume_min_ratio: 1.0,
        min_price_change_pct: 3.0,
        check_ema10: true,
        check_ma50: true,
        check_ma200: true,
        ema10_tolerance: BELOW,
        buy_target: None,
        rsi: RsiMethod::Simple,
        protection_pct: rust_decimal::Decimal::from_parts(3, 0, 0, false, 0),
    },
    Preset {
        name: "swing-aggressive",
        buy_below: 45.0,
        sell_above: 68.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
        check_ema10: true,
        check_ma50: true,
        check_ma200: true,
        ema10_tolerance: BELOW,
        buy_target: None,
        rsi: RsiMethod::Simple,
        protection_pct: rust_decimal::Decimal::from_parts(2, 0, 0, false, 0),
    },
    Preset {
        name: "intraday-conservative",
        buy_below: 45.0,
        sell_above: 70.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
        check_ema10: true,
        check_ma50: true,
        check_ma200: false,
        ema10_tolerance: BELOW,
        buy_target: None,
        rsi: RsiMethod::Simple,
        protection_pct: rust_decimal::Decimal::from_parts(3, 0, 0, false, 0),
    },
    Preset {
        name: "intraday-aggressive",
        buy_below: 50.0,
        sell_above: 65.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
        check_ema10: true,
        check_ma50: true,
        check_ma200: false,
        ema10_tolerance: BELOW,
        buy_target: None,
        rsi: RsiMethod::Simple,
        protection_pct: rust_decimal::Decimal::from_parts(2, 0, 0, false, 0),
    },
    Preset {
        name: "scalp-conservative",
        buy_below: 50.0,
        sell_above: 70.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
        check_ema10: true,
        check_ma50: false,
        check_ma200: false,
        ema10_tolerance: 0.05,
        buy_target: None,
        rsi: RsiMethod::Simple,
        protection_pct: rust_decimal::Decimal::from_parts(3, 0, 0, false, 0),
    },
    Preset {
        name: "scalp-aggressive",
        buy_below: 55.0,
        sell_above: 65.0,
        volume_min_ratio: 0.5,
        min_price_change_pct: 1.0,
        check_ema10: false,
        check_ma50: false,
        check_ma200: false,
        ema10_tolerance: 0.05,
        buy_target: None,
        rsi: RsiMethod::Simple,
        protection_pct: rust_decimal::Decimal::from_parts(2, 0, 0, false, 0),
    },
];

/// A watchlist row's preset when it names none, found by name when the crate is compiled (a name that is not in
/// [`PRESETS`] does not compile).
pub const DEFAULT_PRESET: &Preset = by_name("swing-aggressive");

/// The preset named `name` exactly, at compile time.
const fn by_name(name: &str) -> &'static Preset {
    let mut i = 0;
    while i < PRESETS.len() {
        let (a, b) = (PRESETS[i].name.as_bytes(), name.as_bytes());
        let mut same = a.len() == b.len();
        let mut k = 0;
        while same && k < a.len() {
            same = a[k] == b[k];
            k += 1;
        }
        if same {
            return &PRESETS[i];
        }
        i += 1;
    }
    panic!("no preset of that name")
}

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

/// Relative band within which MA50 and EMA10 count as equal (a flat market).
const FLAT: f64 = 1e-4;
/// How far below an average the price may be for a BUY.
const BELOW: f64 = 0.005;

/// How MA50 and EMA10 count as equal: the port's relative band, or the original's absolute 0.0001.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flat {
    Relative,
    OriginalAbsolute,
}

impl Flat {
    fn equal(self, a: f64, b: f64) -> bool {
        match self {
            Self::Relative => (a - b).abs() <= FLAT * a.abs(),
            Self::OriginalAbsolute => (a - b).abs() <= 1e-4,
        }
    }
}

/// The preset's MA checks for a BUY; Err names the failed check.
fn buy_ma_checks(p: &Preset, ind: &Indicators, flat: Flat) -> Result<(), String> {
    if p.check_ema10 && p.check_ma50 {
        if !(ind.ma50 > ind.ema10 || flat.equal(ind.ma50, ind.ema10)) {
            return Err("MA50<=EMA10".into());
        }
    } else if p.check_ma50 {
        if ind.price < ind.ma50 * (1.0 - BELOW) {
            return Err("price<MA50".into());
        }
    } else if p.check_ema10 && ind.price < ind.ema10 * (1.0 - p.ema10_tolerance) {
        return Err("price<EMA10".into());
    }
    if p.check_ma200 && ind.price < ind.ma200 * (1.0 - BELOW) {
        return Err("price<MA200".into());
    }
    Ok(())
}

/// The trend reversal a SELL needs where MA50 is checked.
fn sell_reversal(p: &Preset, ind: &Indicators) -> bool {
    !p.check_ma50 || ema_gap_reversal(ind) || ind.price < ind.ma10w
}

fn ema_gap_reversal(ind: &Indicators) -> bool {
    let gap = ind.ma50 - ind.ema10;
    gap > 0.0 && gap >= BELOW * (ind.ma50 + ind.ema10) / 2.0
}

/// Whether the decision turns on MA10w: a SELL candidate (RSI, volume) whose preset checks MA50 and whose EMA gap
/// shows no reversal. Only then is it worth reading daily candles for the real MA10w.
pub fn sell_hinges_on_ma10w(p: &Preset, ind: &Indicators) -> bool {
    p.check_ma50 && ind.rsi > p.sell_above && volume_ok(p, ind) && !ema_gap_reversal(ind)
}

/// The volume gate: a ratio, and at least the preset's minimum (no volume data never passes).
fn volume_ok(p: &Preset, ind: &Indicators) -> bool {
    ind.volume_ratio.is_some_and(|v| v >= p.volume_min_ratio)
}

/// The BUY rule: RSI, volume gate, buy target and MA checks (with `flat` for MA50 ≈ EMA10).
pub fn buys(p: &Preset, ind: &Indicators, flat: Flat) -> bool {
    let under_target = p.buy_target.is_none_or(|target| ind.price <= target);
    ind.rsi < p.buy_below && volume_ok(p, ind) && under_target && buy_ma_checks(p, ind, flat).is_ok()
}

pub fn decide(p: &Preset, ind: &Indicators) -> Verdict {
    let Some(vol) = ind.volume_ratio else {
        return Verdict::Wait; // no volume data → no signal (as the original)
    };
    let detail = format!(
        "RSI={:.2}, Price={}, MA50={:.6}, EMA10={:.6}, MA200={:.6}, Vol={:.2}x (min {}x)",
        ind.rsi, ind.price, ind.ma50, ind.ema10, ind.ma200, vol, p.volume_min_ratio
    );
    if buys(p, ind, Flat::Relative) {
        return Verdict::Signal {
            side: Side::Buy,
            reason: format!("{} | RSI<{} | MA ok | {detail}", p.name, p.buy_below),
        };
    }
    if ind.rsi > p.sell_above && volume_ok(p, ind) && sell_reversal(p, ind) {
        return Verdict::Signal {
            side: Side::Sell,
            reason: format!("{} | RSI>{} | reversal | {detail}", p.name, p.sell_above),
        };
    }
    Verdict::Wait
}

/// The decision again with MA10w from daily candles, when the decision turns on it and there are 50+ of them.
pub fn with_daily_ma10w(p: &Preset, ind: Indicators, verdict: Verdict, daily: &[Candle]) -> (Indicators, Verdict) {
    match crate::market::indicators::ma10w_daily(daily) {
        Some(ma10w) if sell_hinges_on_ma10w(p, &ind) => {
            let ind = Indicators { ma10w, ..ind };
            let verdict = decide(p, &ind);
            (ind, verdict)
        }
        _ => (ind, verdict),
    }
}

/// Fewer closed candles than this and the indicators are not meaningful (RSI(14) needs 15).
pub const MIN_HISTORY: usize = 20;

/// The evaluator's decision on the newest of `candles` (closed, oldest first), with the volume gate over
/// `five_min` (the completed 5-minute candles at the same instant, `indicators::volume_index`); None without enough
/// history. Shared by the evaluator function and the replay command, so both decide with the same code.
pub fn evaluate_candles(p: &Preset, candles: &[Candle], five_min: &[Candle]) -> Option<(Indicators, Verdict)> {
    if candles.len() < MIN_HISTORY {
        return None;
    }
    let ind = Indicators::compute_with(candles, p.rsi, crate::market::indicators::volume_index(five_min))?;
    let verdict = decide(p, &ind);
    Some((ind, verdict))
}

/// Whether the volume gate can change this verdict: only when RSI is outside the preset's band (under `buyBelow` or
/// over `sellAbove`), since every signal needs one of those. Otherwise the evaluator need not fetch 5-minute candles.
pub fn volume_can_decide(p: &Preset, ind: &Indicators) -> bool {
    ind.rsi < p.buy_below || ind.rsi > p.sell_above
}

/// The decision again with the volume gate over `five_min` (`indicators::volume_index`).
pub fn with_volume(p: &Preset, ind: Indicators, five_min: &[Candle]) -> (Indicators, Verdict) {
    let ind = Indicators {
        volume_ratio: crate::market::indicators::volume_index(five_min),
        ..ind
    };
    let verdict = decide(p, &ind);
    (ind, verdict)
}

/// A close as a decimal price, from its shortest round-trip text (never exponent notation).
pub fn price_decimal(close: f64) -> Option<Decimal> {
    close.to_string().parse().ok()
}

/// Price change in percent from `from` to `to`; None when `from` is zero.
/// Checked: None for a zero `from` or a change out of Decimal's range (the throttle treats both as a large move).
pub fn change_pct(from: Decimal, to: Decimal) -> Option<f64> {
    to.checked_sub(from)?
        .checked_div(from)?
        .checked_mul(Decimal::ONE_HUNDRED)?
        .to_f64()
}

/// The throttle's cooldown when the watchlist row sets none (the original's default).
pub const DEFAULT_COOLDOWN_MINUTES: f64 = 1.0;

/// A cooldown in minutes (a watchlist override or the replay's option) in milliseconds of market time; whole
/// milliseconds, rounded toward zero (a NaN or negative cooldown holds nothing back; a huge one saturates).
pub fn cooldown_ms(minutes: f64) -> i64 {
    (minutes * 60_000.0) as i64
}

/// What the throttle says of a signal; shown in the original's words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throttle {
    /// No previous same-side signal: it passes.
    First,
    /// The cooldown has elapsed and the price moved enough: it passes.
    Passes {
        elapsed_s: i64,
        cooldown_s: i64,
        change_pct: f64,
        min_pct: f64,
    },
    /// Held back: the cooldown has not elapsed (market time, candle to candle).
    TimeGate { elapsed_s: i64, cooldown_s: i64 },
    /// Held back: the price has not moved enough since the last sent signal.
    PriceGate { change_pct: f64, min_pct: f64 },
}

impl Throttle {
    pub fn holds_back(&self) -> bool {
        matches!(self, Throttle::TimeGate { .. } | Throttle::PriceGate { .. })
    }
}

impl std::fmt::Display for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let arrow = |change: f64| if change >= 0.0 { "↑" } else { "↓" };
        match *self {
            Throttle::First => f.write_str("No previous same-side signal recorded"),
            Throttle::Passes {
                elapsed_s,
                cooldown_s,
                change_pct,
                min_pct,
            } => write!(
                f,
                "Δt={elapsed_s}s>= {cooldown_s}s & |Δp|={} {:.2}%>= {min_pct:.2}%",
                arrow(change_pct),
                change_pct.abs()
            ),
            Throttle::TimeGate { elapsed_s, cooldown_s } => {
                write!(f, "THROTTLED_TIME_GATE (elapsed {elapsed_s}s < {cooldown_s}s)")
            }
            Throttle::PriceGate { change_pct, min_pct } => write!(
                f,
                "THROTTLED_PRICE_GATE (|Δp|={} {:.2}% < {min_pct:.2}%)",
                arrow(change_pct),
                change_pct.abs()
            ),
        }
    }
}

/// The original's throttle, per symbol and side: the first signal passes; a repeat needs the cooldown elapsed in
/// market time (candle to candle) AND the price moved by at least `min_price_change_pct` since the last sent one.
pub fn throttle(
    prev: Option<&Emission>,
    candle_open_ms: i64,
    price: Decimal,
    cooldown_ms: i64,
    min_price_change_pct: f64,
) -> Throttle {
    let Some(prev) = prev else {
        return Throttle::First;
    };
    let elapsed_s = (candle_open_ms - prev.candle_open_ms) / 1000;
    let cooldown_s = cooldown_ms / 1000;
    if candle_open_ms - prev.candle_open_ms < cooldown_ms {
        return Throttle::TimeGate { elapsed_s, cooldown_s };
    }
    let change_pct = change_pct(prev.price, price).unwrap_or(f64::INFINITY);
    let min_pct = min_price_change_pct;
    if change_pct.abs() < min_pct {
        return Throttle::PriceGate { change_pct, min_pct };
    }
    Throttle::Passes {
        elapsed_s,
        cooldown_s,
        change_pct,
        min_pct,
    }
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
            // Price under MA10w: the SELL trend reversal holds unless a test says otherwise.
            ma10w: 2.0,
            atr: None,
            volume_ratio: vol,
        }
    }

    #[test]
    fn every_preset_on_both_sides_of_its_thresholds() {
        for p in PRESETS {
            // Averages that pass every MA check (MA50 just above EMA10, price on the averages), and a SELL reversal
            // through MA10w above the price.
            let base = Indicators {
                ma50: 1.001,
                ..ind(0.0, Some(p.volume_min_ratio))
            };
            let at = |rsi: f64, vol: f64| {
                decide(
                    p,
                    &Indicators {
                        rsi,
                        volume_ratio: Some(vol),
                        ..base.clone()
                    },
                )
            };
            let side = |v: Verdict| match v {
                Verdict::Signal { side, .. } => Some(side),
                Verdict::Wait => None,
            };
            let (buy, sell, vol) = (p.buy_below, p.sell_above, p.volume_min_ratio);
            assert_eq!(
                side(at(buy - 0.01, vol)),
                Some(Side::Buy),
                "{} BUY just under {buy}",
                p.name
            );
            assert_eq!(side(at(buy, vol)), None, "{} no BUY at {buy}", p.name);
            assert_eq!(
                side(at(buy - 0.01, vol - 0.01)),
                None,
                "{} no BUY under the volume minimum",
                p.name
            );
            assert_eq!(
                side(at(sell + 0.01, vol)),
                Some(Side::Sell),
                "{} SELL just over {sell}",
                p.name
            );
            assert_eq!(side(at(sell, vol)), None, "{} no SELL at {sell}", p.name);
            assert_eq!(
                side(at(sell + 0.01, vol - 0.01)),
                None,
                "{} no SELL under the volume minimum",
                p.name
            );
        }
    }

    #[test]
    fn daily_ma10w_decides_only_when_the_sell_turns_on_it() {
        let p = preset("swing-aggressive").unwrap();
        let day = |close: f64| Candle {
            open_ms: 0,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
        };
        let hinged = Indicators {
            ma10w: 0.5,
            ..ind(80.0, Some(1.0))
        };
        assert!(sell_hinges_on_ma10w(p, &hinged));
        assert_eq!(
            decide(p, &hinged),
            Verdict::Wait,
            "price above the 70-candle fallback: no reversal"
        );
        let high_days: Vec<Candle> = (0..50).map(|_| day(2.0)).collect();
        let (ind2, v) = with_daily_ma10w(p, hinged.clone(), Verdict::Wait, &high_days);
        assert_eq!(ind2.ma10w, 2.0);
        assert!(
            matches!(v, Verdict::Signal { side: Side::Sell, .. }),
            "under the daily MA10w: reversal"
        );
        let (_, v) = with_daily_ma10w(p, hinged.clone(), Verdict::Wait, &high_days[..49]);
        assert_eq!(v, Verdict::Wait, "49 days are not enough: the fallback stays");
        let not_a_sell = ind(40.0, Some(1.0));
        assert!(!sell_hinges_on_ma10w(p, &not_a_sell));
    }

    #[test]
    fn the_volume_gate_is_only_read_when_it_can_decide() {
        // The evaluator skips the 5-minute request when RSI is inside the band: no volume may signal there.
        for p in PRESETS {
            for step in 0..=200 {
                let rsi = f64::from(step) / 2.0;
                for vol in [None, Some(0.0), Some(1.0), Some(1e9)] {
                    for (ma50, ema10) in [(1.0, 1.0), (2.0, 0.5), (0.5, 2.0)] {
                        let i = Indicators {
                            ma50,
                            ema10,
                            ..ind(rsi, vol)
                        };
                        if !volume_can_decide(p, &i) {
                            assert_eq!(decide(p, &i), Verdict::Wait, "{} at RSI {rsi}", p.name);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn watchlist_overrides() {
        let p = preset("swing-aggressive").unwrap();
        let weak_volume = ind(40.0, Some(0.3));
        assert_eq!(decide(p, &weak_volume), Verdict::Wait);
        assert!(matches!(
            decide(&p.with_overrides(None, Some(0.3), None), &weak_volume),
            Verdict::Signal { .. }
        ));
        assert_eq!(
            decide(&p.with_overrides(Some(0.99), None, None), &ind(40.0, Some(1.0))),
            Verdict::Wait,
            "over the buy target"
        );
        assert!(matches!(
            decide(&p.with_overrides(Some(1.0), None, None), &ind(40.0, Some(1.0))),
            Verdict::Signal { .. }
        ));
    }

    #[allow(clippy::too_many_lines)] // one scenario, read top to bottom
    #[test]
    fn ma_checks_on_both_sides() {
        let swing = preset("swing-aggressive").unwrap();
        let buy = |i: &Indicators| matches!(decide(swing, i), Verdict::Signal { side: Side::Buy, .. });
        // EMA10 and MA50 checked: MA50 must be above EMA10; equal within 0.01 % (relative) passes.
        assert!(buy(&Indicators {
            ma50: 1.02,
            ..ind(40.0, Some(1.0))
        }));
        assert!(buy(&Indicators {
            ema10: 1.00009,
            ..ind(40.0, Some(1.0))
        }));
        assert!(!buy(&Indicators {
            ema10: 1.0002,
            ..ind(40.0, Some(1.0))
        }));
        // The tolerance is relative: a low-priced pair no longer passes a 0.0001 absolute band.
        let tiny = Indicators {
            price: 5e-5,
            ma50: 5e-5,
            ma200: 5e-5,
            ema10: 6e-5,
            ..ind(40.0, Some(1.0))
        };
        assert!(!buy(&tiny));
        // MA200 checked: at most 0.5 % below it.
        assert!(buy(&Indicators {
            ma200: 1.005,
            ..ind(40.0, Some(1.0))
        }));
        assert!(!buy(&Indicators {
            ma200: 1.006,
            ..ind(40.0, Some(1.0))
        }));
        // Only EMA10 checked (scalp-conservative): 5 % below EMA10 is still fine, 6 % is not.
        let scalp = preset("scalp-conservative").unwrap();
        assert!(matches!(
            decide(
                scalp,
                &Indicators {
                    ema10: 1.05,
                    ..ind(40.0, Some(1.0))
                }
            ),
            Verdict::Signal { .. }
        ));
        assert_eq!(
            decide(
                scalp,
                &Indicators {
                    ema10: 1.07,
                    ..ind(40.0, Some(1.0))
                }
            ),
            Verdict::Wait
        );
        // SELL where MA50 is checked needs a reversal: EMA10 under MA50 by 0.5 % of their mean, or price under MA10w.
        let sell = |i: &Indicators| matches!(decide(swing, i), Verdict::Signal { side: Side::Sell, .. });
        assert!(!sell(&Indicators {
            ma10w: 1.0,
            ..ind(80.0, Some(1.0))
        }));
        assert!(sell(&Indicators {
            ma10w: 1.0,
            ma50: 1.006,
            ..ind(80.0, Some(1.0))
        }));
        assert!(!sell(&Indicators {
            ma10w: 1.0,
            ma50: 1.004,
            ..ind(80.0, Some(1.0))
        }));
        // scalp-aggressive checks nothing: no reversal needed.
        let free = preset("scalp-aggressive").unwrap();
        assert!(matches!(
            decide(
                free,
                &Indicators {
                    ma10w: 1.0,
                    ..ind(80.0, Some(1.0))
                }
            ),
            Verdict::Signal { side: Side::Sell, .. }
        ));
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

    #[test]
    fn price_change_is_checked() {
        assert_eq!(change_pct(Decimal::from(100), Decimal::from(110)), Some(10.0));
        assert_eq!(change_pct(Decimal::ZERO, Decimal::ONE), None);
        assert_eq!(
            change_pct(Decimal::new(1, 28), Decimal::MAX),
            None,
            "overflow is not a panic"
        );
        assert_eq!(change_pct(Decimal::MIN, Decimal::MAX), None);
    }

    #[test]
    fn throttle_gates_on_both_sides() {
        let prev = Emission {
            candle_open_ms: 0,
            price: Decimal::from(100),
            signal_id: None,
            claimed_at_ms: None,
            claim_token: None,
        };
        let hour = 3_600_000;
        assert_eq!(throttle(None, 0, Decimal::ONE, 60_000, 1.0), Throttle::First);
        // Time gate: 59 s after the last one is too early even with a large move; 60 s is enough.
        let early = throttle(Some(&prev), 59_000, Decimal::from(150), 60_000, 1.0);
        assert!(
            early.holds_back() && early.to_string().starts_with("THROTTLED_TIME_GATE"),
            "{early}"
        );
        assert!(!throttle(Some(&prev), 60_000, Decimal::from(150), 60_000, 1.0).holds_back());
        // Price gate: 0.99 % is not enough, 1.00 % is, in both directions.
        let e = throttle(Some(&prev), hour, Decimal::new(10099, 2), 60_000, 1.0).to_string();
        assert!(e.starts_with("THROTTLED_PRICE_GATE") && e.contains("↑ 0.99%"), "{e}");
        assert!(!throttle(Some(&prev), hour, Decimal::from(101), 60_000, 1.0).holds_back());
        let down = throttle(Some(&prev), hour, Decimal::from(99), 60_000, 1.0);
        assert!(!down.holds_back() && down.to_string().contains("↓ 1.00%"), "{down}");
        assert!(throttle(Some(&prev), hour, Decimal::new(9901, 2), 60_000, 1.0).holds_back());
    }

    #[test]
    fn cooldown_minutes_are_whole_milliseconds() {
        assert_eq!(cooldown_ms(DEFAULT_COOLDOWN_MINUTES), 60_000);
        assert_eq!(cooldown_ms(0.5), 30_000);
        assert_eq!(cooldown_ms(1.0 / 7.0), 8_571, "rounded toward zero");
        assert_eq!(cooldown_ms(f64::NAN), 0);
        assert_eq!(cooldown_ms(f64::INFINITY), i64::MAX, "saturates");
    }
}
/// (the claiming run died between the claim and the signal row).
/// The last sent signal of a symbol and side: `last_{side}_ms` (market time of its candle), `last_{side}_price`,
/// `last_{side}_signal_id` and `last_{side}_claimed_ms` (wall-clock time of the claim). The claim is a lease: a run
/// that finds a claim of the very signal it is about to send leaves it alone while the claim is younger than the
/// evaluator's timeout (the claiming run is still in flight and will finish it), and finishes it once it is older
#[derive(Debug, Clone, PartialEq)]
pub struct Emission {
    pub candle_open_ms: i64,
    pub price: Decimal,
    pub signal_id: Option<String>,
    /// None for claims written before the lease existed: treated as expired.
    pub claimed_at_ms: Option<i64>,
    /// Unique per claim write: the same write retried by the SDK after its answer was lost finds its own token and
    /// succeeds, where another run's claim (same signal, same millisecond even) does not.
    pub claim_token: Option<String>,
}

impl Emission {
    /// True when this is a claim of `signal_id` whose lease has not run out at `now_ms`.
    pub fn is_live_claim_of(&self, signal_id: &str, now_ms: i64, lease_ms: i64) -> bool {
        self.signal_id.as_deref() == Some(signal_id)
            && self
                .claimed_at_ms
                .is_some_and(|at| now_ms.saturating_sub(at) < lease_ms)
    }
}
