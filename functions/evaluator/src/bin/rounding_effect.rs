//! `rounding-effect [FILE...]` (default: the shipped candle files): for every preset, how many hourly decisions would
//! change if the indicators were rounded as the original system rounds them (RSI to 2 decimals, moving averages by
//! magnitude) before deciding. The port decides on unrounded values; this prints what that choice changes, per
//! file and preset: candles decided, decisions that differ, and the first five differing candles. Then the port's BUY
//! decisions against the original's BUY rule (rounded values and its absolute MA50 ≈ EMA10 tolerance), each
//! difference put down to its cause. (swing-conservative: the original's rule there has filters the port leaves
//! out — docs/STRATEGY.md — so its row compares the shared part of the rule only.)

use shared::backtest::History;
use shared::market::candles::{parse_rows, Timeframe};
use shared::market::strategy::{self, Flat, Preset, Verdict, PRESETS};

/// As the evaluator reads them: the last 200 closed candles.
const WINDOW: usize = 200;

fn side(v: &Verdict) -> &'static str {
    match v {
        Verdict::Signal { side, .. } => side.as_str(),
        Verdict::Wait => "WAIT",
    }
}

fn main() {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/candles");
        files = ["ETH_BTC-5m.json", "XRP_ETH-1m.json", "XRP_USDT-5m.json"]
            .iter()
            .map(|f| format!("{dir}/{f}"))
            .collect();
    }
    let mut histories = Vec::new();
    for file in &files {
        let candles = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_rows(&text).map_err(|e| e.to_string()));
        match candles {
            Ok(c) => {
                let name = std::path::Path::new(file)
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                histories.push((name, History::new(&c, Timeframe::H1, WINDOW)));
            }
            Err(e) => {
                eprintln!("rounding-effect: {file}: {e}");
                std::process::exit(2);
            }
        }
    }
    println!("| file | preset | hourly decisions | differ when rounded | first differing (open time ms: unrounded → rounded) |");
    println!("|---|---|---|---|---|");
    for (name, history) in &histories {
        for preset in PRESETS {
            rounding_row(name, history, preset);
        }
    }
    println!();
    println!("| file | preset | BUYs (port) | BUYs (original's rule) | differ | by rounding | by the MA50≈EMA10 tolerance | by both | unexplained |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, history) in &histories {
        for preset in PRESETS {
            buy_fidelity_row(name, history, preset);
        }
    }
}

fn rounding_row(name: &str, history: &History, preset: &Preset) {
    let (mut decided, mut differ, mut examples) = (0, 0, Vec::new());
    for moment in history.moments() {
        let Some((ind, unrounded)) = moment.evaluate(preset) else {
            continue;
        };
        let rounded = strategy::decide(preset, &ind.rounded_like_original());
        decided += 1;
        if side(&unrounded) != side(&rounded) {
            differ += 1;
            if examples.len() < 5 {
                examples.push(format!(
                    "{}: {} → {}",
                    moment.open_ms(),
                    side(&unrounded),
                    side(&rounded)
                ));
            }
        }
    }
    println!(
        "| {name} | {} | {decided} | {differ} | {} |",
        preset.name,
        examples.join("; ")
    );
}

/// The port's BUY decisions against the original's BUY rule (rounded indicators, absolute MA50 ≈ EMA10 tolerance of
/// 0.0001) on the same indicators and volume gate, each difference put down to the cause that explains it: the
/// port's rule with only the rounding, or only the tolerance, of the original already agrees with it.
fn buy_fidelity_row(name: &str, history: &History, preset: &Preset) {
    let (mut port, mut original, mut differ) = (0, 0, 0);
    let (mut by_rounding, mut by_tolerance, mut by_both) = (0, 0, 0);
    for moment in history.moments() {
        let Some((ind, _)) = moment.evaluate(preset) else {
            continue;
        };
        let rounded = ind.rounded_like_original();
        let ours = strategy::buys(preset, &ind, Flat::Relative);
        let theirs = strategy::buys(preset, &rounded, Flat::OriginalAbsolute);
        port += usize::from(ours);
        original += usize::from(theirs);
        if ours == theirs {
            continue;
        }
        differ += 1;
        if strategy::buys(preset, &rounded, Flat::Relative) == theirs {
            by_rounding += 1;
        } else if strategy::buys(preset, &ind, Flat::OriginalAbsolute) == theirs {
            by_tolerance += 1;
        } else {
            by_both += 1;
        }
    }
    let unexplained = differ - by_rounding - by_tolerance - by_both;
    println!(
        "| {name} | {} | {port} | {original} | {differ} | {by_rounding} | {by_tolerance} | {by_both} | {unexplained} |",
        preset.name
    );
}
