//! `replay FILE --preset NAME [--timeframe 1h] [--rsi simple|wilder] [--count 200] [--cooldown-minutes 1] [--min-price-change-pct P]`:
//! runs the evaluator's strategy over a candle file (rows `[open_time_ms, o, h, l, c, v]`; the symbol is the file
//! name before the first `-`) without AWS and prints one JSON document: the indicators of every closed candle, the
//! decision before the throttle, and the signals with whether the throttle held them back.

use std::process::ExitCode;

use shared::backtest::{self, BacktestSettings};
use shared::candles::{parse_rows, Timeframe};
use shared::indicators::RsiMethod;
use shared::strategy;

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
            use std::io::Write;
            let _ = writeln!(std::io::stdout().lock(), "{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("replay: {e}");
            eprintln!("usage: replay FILE --preset NAME [--timeframe 1h] [--rsi simple|wilder] [--count 200] [--cooldown-minutes 1] [--min-price-change-pct P]");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let (mut file, mut preset, mut timeframe, mut count, mut cooldown, mut min_pct) =
        (None, None, "1h".to_string(), 200usize, 1.0f64, None::<f64>);
    let mut rsi = None;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--preset" => preset = Some(value("--preset")?),
            "--timeframe" => timeframe = value("--timeframe")?,
            "--rsi" => rsi = Some(RsiMethod::parse(&value("--rsi")?).ok_or("--rsi is simple or wilder")?),
            "--count" => count = value("--count")?.parse().map_err(|_| "--count is not an integer")?,
            "--cooldown-minutes" => {
                cooldown = value("--cooldown-minutes")?
                    .parse()
                    .map_err(|_| "--cooldown-minutes is not a number")?
            }
            "--min-price-change-pct" => {
                min_pct = Some(
                    value("--min-price-change-pct")?
                        .parse()
                        .map_err(|_| "--min-price-change-pct is not a number")?,
                )
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            path => file = Some(path.to_string()),
        }
    }
    let file = file.ok_or("a candle file is required")?;
    let preset_name = preset.ok_or("--preset is required")?;
    let preset = &strategy::preset(&preset_name)
        .ok_or(format!("unknown preset {preset_name:?}"))?
        .with_overrides(None, None, rsi);
    let tf = Timeframe::parse(&timeframe).ok_or(format!("unknown timeframe {timeframe:?}"))?;
    let symbol = shared::adapters::replay::symbol_of_file(&file).map_err(|e| format!("{file}: {e}"))?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
    let candles = parse_rows(&text).map_err(|e| format!("{file}: {e}"))?;
    let settings = BacktestSettings {
        preset,
        timeframe: tf,
        candle_count: count,
        cooldown_ms: (cooldown * 60_000.0) as i64,
        min_price_change_pct: min_pct.unwrap_or(preset.min_price_change_pct),
    };
    let result = backtest::run(&symbol, &candles, &settings);
    serde_json::to_string_pretty(&result).map_err(|e| e.to_string())
}
