//! `rounding-effect [FILE...]` (default: the shipped candle files): for every preset, how many hourly decisions would
//! change if the indicators were rounded as the original system rounds them (RSI to 2 decimals, moving averages by
//! magnitude) before deciding. The port decides on unrounded values; this prints what that choice changes, per
//! file and preset: candles decided, decisions that differ, and the first five differing candles.

use shared::candles::{parse_rows, resample, Timeframe};
use shared::strategy::{self, Verdict, MIN_HISTORY, PRESETS};

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
    println!("| file | preset | hourly decisions | differ when rounded | first differing (open time ms: unrounded → rounded) |");
    println!("|---|---|---|---|---|");
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("rounding-effect: {file}: {e}");
                std::process::exit(2);
            }
        };
        let candles = match parse_rows(&text) {
            Ok(c) => resample(&c, Timeframe::H1),
            Err(e) => {
                eprintln!("rounding-effect: {file}: {e}");
                std::process::exit(2);
            }
        };
        let name = std::path::Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        for preset in PRESETS {
            let (mut decided, mut differ, mut examples) = (0, 0, Vec::new());
            for end in MIN_HISTORY..=candles.len() {
                let window = &candles[end.saturating_sub(WINDOW)..end];
                let Some((ind, unrounded)) = strategy::evaluate_candles(preset, window) else {
                    continue;
                };
                let rounded = strategy::decide(preset, &ind.rounded_like_original());
                decided += 1;
                if side(&unrounded) != side(&rounded) {
                    differ += 1;
                    if examples.len() < 5 {
                        examples.push(format!(
                            "{}: {} → {}",
                            window[window.len() - 1].open_ms,
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
    }
}
