//! `ops replay FILE --preset NAME|all`: runs the evaluator's strategy over a candle file (rows
//! `[open_time_ms, o, h, l, c, v]`; the symbol is the file name before the first `-`) without AWS. Without
//! `--report`/`--chart` it prints one JSON document (an array of them for `--preset all`): the indicators of every
//! closed candle, the decision before the throttle, and the signals with whether the throttle held them back.
//! `--report` writes the backtest report (summary with the paper book, a chart and the signals per preset), `--chart`
//! one preset's chart as SVG; both print the summary. The report's paper book is in USD: each order is
//! `--amount-usd`, the quote currency valued at 1 USD when pegged, at `--quote-usd`, or at the closes of its USD
//! pair's candle file beside FILE (`{QUOTE}_USD-*.json` or `{QUOTE}_USDT-*.json`).

use std::process::ExitCode;

use rust_decimal::Decimal;
use shared::backtest::paper_book::{BookSettings, PaperBook, QuoteUsd};
use shared::backtest::{self, Backtest, BacktestSettings};
use shared::market::candles::{parse_rows, Candle, Timeframe};
use shared::market::indicators::RsiMethod;
use shared::market::strategy::{self, Preset};
use shared::money::{quote_currency, UsdPrice};

use crate::backtest_report::{self as report, PresetRun};

#[derive(clap::Args)]
pub struct Args {
    /// A candle file: a JSON array of [open_time_ms, open, high, low, close, volume], named SYMBOL-<anything>.json
    file: String,
    /// A preset's name, or all
    #[arg(long)]
    preset: String,
    /// The timeframe the strategy reads (the candles are aggregated to it)
    #[arg(long, default_value = "1h")]
    timeframe: String,
    /// RSI smoothing: simple or wilder (default: the preset's)
    #[arg(long)]
    rsi: Option<String>,
    /// Candles the evaluator reads per decision
    #[arg(long, default_value_t = 200)]
    count: usize,
    /// The throttle's cooldown between two signals of one side
    #[arg(long, default_value_t = strategy::DEFAULT_COOLDOWN_MINUTES)]
    cooldown_minutes: f64,
    /// The throttle's minimum price change in % (default: the preset's)
    #[arg(long)]
    min_price_change_pct: Option<f64>,
    /// Write the backtest report (HTML) here
    #[arg(long)]
    report: Option<String>,
    /// Write one preset's chart (SVG) here
    #[arg(long)]
    chart: Option<String>,
    /// USD per order in the report's paper book
    #[arg(long, default_value = "100")]
    amount_usd: Decimal,
    /// USD per unit of the quote currency, when it is not a dollar
    #[arg(long)]
    quote_usd: Option<Decimal>,
    /// Fee per order, in %
    #[arg(long, default_value = "0.075")]
    fee_pct: Decimal,
    /// A stop-loss and a take-profit after each BUY in the paper book, triggered on the candles as the paper
    /// exchange triggers them: on or off
    #[arg(long, default_value = "on")]
    protection: String,
    /// The stop's distance under the BUY's price in % (default: the preset's, 3 conservative, 2 aggressive)
    #[arg(long)]
    sl_pct: Option<Decimal>,
    /// The take-profit's distance over the BUY's price in % (default: the preset's)
    #[arg(long)]
    tp_pct: Option<Decimal>,
}

/// The arguments, checked.
struct Settings<'a> {
    file: &'a str,
    presets: Vec<Preset>,
    timeframe: Timeframe,
    count: usize,
    cooldown_minutes: f64,
    min_pct: Option<f64>,
    report: Option<&'a str>,
    chart: Option<&'a str>,
    amount_usd: Decimal,
    fee_rate: Decimal,
    quote_usd: Option<Decimal>,
    /// None: no protection; else the percentages given (each None: the preset's).
    protection: Option<(Option<Decimal>, Option<Decimal>)>,
}

fn settings(a: &Args) -> Result<Settings<'_>, String> {
    let rsi = match a.rsi.as_deref() {
        None => None,
        Some(r) => Some(RsiMethod::parse(r).ok_or("--rsi is simple or wilder")?),
    };
    let (preset, chart, amount_usd, fee_pct, quote_usd) = (&a.preset, &a.chart, a.amount_usd, a.fee_pct, a.quote_usd);
    let presets: Vec<Preset> = if preset == "all" {
        strategy::PRESETS.to_vec()
    } else {
        vec![*strategy::preset(preset).ok_or(format!("unknown preset {preset:?}"))?]
    };
    if chart.is_some() && presets.len() != 1 {
        return Err("--chart draws one preset; use --report for --preset all".into());
    }
    if amount_usd <= Decimal::ZERO || fee_pct < Decimal::ZERO || fee_pct >= Decimal::ONE_HUNDRED {
        return Err("--amount-usd must be positive and --fee-pct in [0, 100)".into());
    }
    if quote_usd.is_some_and(|r| r <= Decimal::ZERO) {
        return Err("--quote-usd must be positive (USD per unit of the quote currency)".into());
    }
    let pct_ok = |p: Option<Decimal>| p.is_none_or(|v| v > Decimal::ZERO && v < Decimal::from(50));
    if !pct_ok(a.sl_pct) || !pct_ok(a.tp_pct) {
        return Err("--sl-pct and --tp-pct are percentages over 0 and under 50".into());
    }
    let protection = match a.protection.as_str() {
        "on" => Some((a.sl_pct, a.tp_pct)),
        "off" => None,
        other => return Err(format!("--protection is on or off, not {other:?}")),
    };
    Ok(Settings {
        file: &a.file,
        presets: presets.into_iter().map(|p| p.with_overrides(None, None, rsi)).collect(),
        timeframe: Timeframe::parse(&a.timeframe).ok_or(format!("unknown timeframe {:?}", a.timeframe))?,
        count: a.count,
        cooldown_minutes: a.cooldown_minutes,
        min_pct: a.min_price_change_pct,
        report: a.report.as_deref(),
        chart: chart.as_deref(),
        amount_usd,
        fee_rate: fee_pct
            .checked_div(Decimal::ONE_HUNDRED)
            .ok_or("--fee-pct out of range")?,
        quote_usd,
        protection,
    })
}

/// The quote currency's USD rate: pegged, given (`--quote-usd`), or the closes of its USD pair's candle file in
/// FILE's folder; else an error that says how to give one.
fn quote_usd(args: &Settings<'_>, quote: &str) -> Result<QuoteUsd, String> {
    if UsdPrice::pegged(quote).is_some() {
        return Ok(QuoteUsd::Pegged);
    }
    if let Some(rate) = args.quote_usd {
        return Ok(QuoteUsd::Fixed(rate));
    }
    let folder = std::path::Path::new(args.file)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut pairs: Vec<std::path::PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            name.ends_with(".json")
                && (name.starts_with(&format!("{quote}_USD-")) || name.starts_with(&format!("{quote}_USDT-")))
        })
        .collect();
    pairs.sort();
    let Some(path) = pairs.first() else {
        return Err(format!(
            "the pair is quoted in {quote}: give --quote-usd RATE (USD per {quote}) or put a {quote}_USD or \
             {quote}_USDT candle file beside {}",
            args.file
        ));
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let closes = parse_rows(&text)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .iter()
        .filter_map(|c| strategy::price_decimal(c.close).map(|p| (c.open_ms, p)))
        .collect();
    let source = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(QuoteUsd::Closes { source, closes })
}

fn replay(args: &Settings<'_>, preset: &Preset, symbol: &shared::ids::Symbol, candles: &[Candle]) -> Backtest {
    let settings = BacktestSettings {
        preset,
        timeframe: args.timeframe,
        candle_count: args.count,
        cooldown_ms: strategy::cooldown_ms(args.cooldown_minutes),
        min_price_change_pct: args.min_pct.unwrap_or(preset.min_price_change_pct),
    };
    backtest::run(symbol, candles, &settings)
}

pub fn run(cli: &Args) -> Result<ExitCode, String> {
    let args = settings(cli)?;
    let text = replay_text(&args)?;
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    Ok(ExitCode::SUCCESS)
}

fn replay_text(args: &Settings<'_>) -> Result<String, String> {
    let file = args.file;
    let symbol = shared::adapters::replay::symbol_of_file(file).map_err(|e| format!("{file}: {e}"))?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let candles = parse_rows(&text).map_err(|e| format!("{file}: {e}"))?;
    let results: Vec<Backtest> = args
        .presets
        .iter()
        .map(|p| replay(args, p, &symbol, &candles))
        .collect();
    if args.report.is_none() && args.chart.is_none() {
        return match results.as_slice() {
            [one] => serde_json::to_string_pretty(one),
            all => serde_json::to_string_pretty(all),
        }
        .map_err(|e| e.to_string());
    }
    let settings = BookSettings {
        amount_usd: args.amount_usd,
        fee_rate: args.fee_rate,
        quote_usd: quote_usd(args, quote_currency(&symbol))?,
        protection: None,
    };
    let series = shared::market::candles::resample(&candles, args.timeframe);
    let mut runs = Vec::new();
    for (preset, backtest) in args.presets.iter().zip(results) {
        let protection = args
            .protection
            .map(|(sl, tp)| shared::order::protection::ProtectionSettings {
                enabled: true,
                sl_pct: sl.unwrap_or(preset.protection_pct),
                tp_pct: tp.unwrap_or(preset.protection_pct),
                on_failure: shared::order::protection::OnFailure::Flatten,
            });
        let settings = BookSettings {
            protection,
            ..settings.clone()
        };
        let book = PaperBook::of(&backtest, &series, &settings).map_err(|e| e.to_string())?;
        runs.push(PresetRun { preset, backtest, book });
    }
    let charts = runs
        .iter()
        .map(report::chart_svg)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if let Some(path) = args.chart {
        std::fs::write(path, &charts[0]).map_err(|e| format!("{path}: {e}"))?;
    }
    if let Some(path) = args.report {
        std::fs::write(path, report::html(file, &runs, &charts, &settings)).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(report::summary_text(&runs))
}
