//! `replay FILE --preset NAME|all [--timeframe 1h] [--rsi simple|wilder] [--count 200] [--cooldown-minutes 1]
//! [--min-price-change-pct P] [--report out.html] [--chart out.svg] [--notional 100] [--fee-pct 0.075]`:
//! runs the evaluator's strategy over a candle file (rows `[open_time_ms, o, h, l, c, v]`; the symbol is the file
//! name before the first `-`) without AWS. Without `--report`/`--chart` it prints one JSON document (an array of them
//! for `--preset all`): the indicators of every closed candle, the decision before the throttle, and the signals with
//! whether the throttle held them back. `--report` writes the backtest report (summary with the paper book, a chart
//! and the signals per preset), `--chart` one preset's chart as SVG; both print the summary.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // production functions ≤ 80 lines (clippy.toml)

use std::process::ExitCode;

use evaluator::report::{self, PresetRun};
use rust_decimal::Decimal;
use shared::backtest::{self, Backtest, BacktestSettings};
use shared::candles::{parse_rows, Candle, Timeframe};
use shared::indicators::RsiMethod;
use shared::money::quote_currency;
use shared::paper_book::{BookSettings, PaperBook};
use shared::strategy::{self, Preset};

const USAGE: &str = "usage: replay FILE --preset NAME|all [--timeframe 1h] [--rsi simple|wilder] [--count 200] \
[--cooldown-minutes 1] [--min-price-change-pct P] [--report out.html] [--chart out.svg] [--notional 100] [--fee-pct 0.075]";

fn main() -> ExitCode {
    match run() {
        Ok(text) => {
            // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
            use std::io::Write;
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("replay: {e}");
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    file: String,
    presets: Vec<Preset>,
    timeframe: Timeframe,
    count: usize,
    cooldown_minutes: f64,
    min_pct: Option<f64>,
    report: Option<String>,
    chart: Option<String>,
    book: BookSettings,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut file, mut preset, mut rsi, mut timeframe) = (None, None, None, "1h".to_string());
    let (mut count, mut cooldown_minutes, mut min_pct) = (200usize, strategy::DEFAULT_COOLDOWN_MINUTES, None::<f64>);
    let (mut report, mut chart) = (None, None);
    let (mut notional, mut fee_pct) = (Decimal::ONE_HUNDRED, Decimal::new(75, 3));
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        fn num<T: std::str::FromStr>(raw: String, name: &str) -> Result<T, String> {
            raw.parse().map_err(|_| format!("{name} is not a number: {raw:?}"))
        }
        match a.as_str() {
            "--preset" => preset = Some(value("--preset")?),
            "--timeframe" => timeframe = value("--timeframe")?,
            "--rsi" => rsi = Some(RsiMethod::parse(&value("--rsi")?).ok_or("--rsi is simple or wilder")?),
            "--count" => count = num(value("--count")?, "--count")?,
            "--cooldown-minutes" => cooldown_minutes = num(value("--cooldown-minutes")?, "--cooldown-minutes")?,
            "--min-price-change-pct" => {
                min_pct = Some(num(value("--min-price-change-pct")?, "--min-price-change-pct")?)
            }
            "--report" => report = Some(value("--report")?),
            "--chart" => chart = Some(value("--chart")?),
            "--notional" => notional = num(value("--notional")?, "--notional")?,
            "--fee-pct" => fee_pct = num(value("--fee-pct")?, "--fee-pct")?,
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            path => file = Some(path.to_string()),
        }
    }
    let preset = preset.ok_or("--preset is required")?;
    let presets: Vec<Preset> = if preset == "all" {
        strategy::PRESETS.to_vec()
    } else {
        vec![*strategy::preset(&preset).ok_or(format!("unknown preset {preset:?}"))?]
    };
    if chart.is_some() && presets.len() != 1 {
        return Err("--chart draws one preset; use --report for --preset all".into());
    }
    if notional <= Decimal::ZERO || fee_pct < Decimal::ZERO || fee_pct >= Decimal::ONE_HUNDRED {
        return Err("--notional must be positive and --fee-pct in [0, 100)".into());
    }
    Ok(Args {
        file: file.ok_or("a candle file is required")?,
        presets: presets.into_iter().map(|p| p.with_overrides(None, None, rsi)).collect(),
        timeframe: Timeframe::parse(&timeframe).ok_or(format!("unknown timeframe {timeframe:?}"))?,
        count,
        cooldown_minutes,
        min_pct,
        report,
        chart,
        book: BookSettings {
            notional,
            fee_rate: fee_pct
                .checked_div(Decimal::ONE_HUNDRED)
                .ok_or("--fee-pct out of range")?,
        },
    })
}

fn replay(args: &Args, preset: &Preset, symbol: &shared::ids::Symbol, candles: &[Candle]) -> Backtest {
    let settings = BacktestSettings {
        preset,
        timeframe: args.timeframe,
        candle_count: args.count,
        cooldown_ms: strategy::cooldown_ms(args.cooldown_minutes),
        min_price_change_pct: args.min_pct.unwrap_or(preset.min_price_change_pct),
    };
    backtest::run(symbol, candles, &settings)
}

fn run() -> Result<String, String> {
    let args = parse_args(std::env::args().skip(1))?;
    let file = &args.file;
    let symbol = shared::adapters::replay::symbol_of_file(file).map_err(|e| format!("{file}: {e}"))?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let candles = parse_rows(&text).map_err(|e| format!("{file}: {e}"))?;
    let results: Vec<Backtest> = args
        .presets
        .iter()
        .map(|p| replay(&args, p, &symbol, &candles))
        .collect();
    if args.report.is_none() && args.chart.is_none() {
        return match results.as_slice() {
            [one] => serde_json::to_string_pretty(one),
            all => serde_json::to_string_pretty(all),
        }
        .map_err(|e| e.to_string());
    }
    let mut runs = Vec::new();
    for (preset, backtest) in args.presets.iter().zip(results) {
        let book = PaperBook::of(&backtest, quote_currency(&symbol), &args.book).map_err(|e| e.to_string())?;
        runs.push(PresetRun { preset, backtest, book });
    }
    let charts = runs
        .iter()
        .map(report::chart_svg)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if let Some(path) = &args.chart {
        std::fs::write(path, &charts[0]).map_err(|e| format!("{path}: {e}"))?;
    }
    if let Some(path) = &args.report {
        std::fs::write(path, report::html(file, &runs, &charts, &args.book)).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(report::summary_text(&runs))
}
