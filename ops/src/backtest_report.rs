//! The backtest report of the replay command: a chart per preset (SVG, drawn with plotters) — price with MA50, MA200
//! and EMA10 and the BUY/SELL markers (dark: sent; light: held back by the throttle), RSI with the preset's
//! thresholds, the volume gate's ratio against the preset's minimum — and an HTML page with the summary table of
//! signals, paper orders, fees and the hypothetical P&L (`shared::backtest::paper_book`), the charts and the signals.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use plotters::prelude::*;
use shared::backtest::paper_book::{BookSettings, PaperBook};
use shared::backtest::{Backtest, IndicatorRow};
use shared::ids::Side;
use shared::market::strategy::Preset;

/// One preset's replay with its book.
pub struct PresetRun<'a> {
    pub preset: &'a Preset,
    pub backtest: Backtest,
    pub book: PaperBook,
}

/// Marker colours, used for nothing else in the chart (a test counts the markers by them).
pub const BUY_SENT: RGBColor = RGBColor(0x0B, 0x8A, 0x3C);
pub const BUY_HELD: RGBColor = RGBColor(0x6F, 0xC2, 0x8A);
pub const SELL_SENT: RGBColor = RGBColor(0xC6, 0x28, 0x28);
pub const SELL_HELD: RGBColor = RGBColor(0xE8, 0x8A, 0x8A);

const CLOSE: RGBColor = RGBColor(0x20, 0x20, 0x20);
const MA50: RGBColor = RGBColor(0x1F, 0x6F, 0xD1);
const MA200: RGBColor = RGBColor(0x8E, 0x44, 0xAD);
const EMA10: RGBColor = RGBColor(0xE0, 0x8E, 0x0B);
const THRESHOLD: RGBColor = RGBColor(0x99, 0x99, 0x99);

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("nothing to draw: the replay has no candle with enough history")]
    Empty,
    #[error("drawing the chart: {0}")]
    Draw(String),
}

fn draw_err<E: std::fmt::Display>(e: E) -> ReportError {
    ReportError::Draw(e.to_string())
}

fn utc(t_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(t_ms)
        .map_or_else(|| t_ms.to_string(), |d| d.format("%m-%d %H:%M").to_string())
}

/// Lowest and highest of `values`, widened by 5 % (and never empty).
fn span(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 1e-6).max(f64::MIN_POSITIVE);
    (lo - pad)..(hi + pad)
}

/// The chart of one preset's replay as an SVG document.
pub fn chart_svg(run: &PresetRun<'_>) -> Result<String, ReportError> {
    let rows = &run.backtest.indicators;
    let (first, last) = match (rows.first(), rows.last()) {
        (Some(f), Some(l)) => (f.t, l.t.max(f.t + 1)),
        _ => return Err(ReportError::Empty),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 760)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (top, rest) = root.split_vertically(440);
        let (middle, bottom) = rest.split_vertically(160);
        let caption = format!(
            "{} {} — {}   (▲ BUY ▼ SELL; dark: sent, light: throttled)",
            run.backtest.symbol, run.backtest.timeframe, run.preset.name
        );
        price_panel(&top, run, first..last, &caption)?;
        rsi_panel(&middle, rows, run.preset, first..last)?;
        volume_panel(&bottom, rows, run.preset, first..last)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// A line of the price panel: its legend, colour and value per row.
type Line = (&'static str, RGBColor, fn(&IndicatorRow) -> f64);

fn price_panel(
    area: &Area<'_>,
    run: &PresetRun<'_>,
    x: std::ops::Range<i64>,
    caption: &str,
) -> Result<(), ReportError> {
    let rows = &run.backtest.indicators;
    let y = span(rows.iter().flat_map(|r| [r.close, r.ma50, r.ma200, r.ema10]));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(22)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&|t| utc(*t))
        .y_desc("price")
        .draw()
        .map_err(draw_err)?;
    let lines: [Line; 4] = [
        ("close", CLOSE, |r| r.close),
        ("MA50", MA50, |r| r.ma50),
        ("MA200", MA200, |r| r.ma200),
        ("EMA10", EMA10, |r| r.ema10),
    ];
    for (label, color, value) in lines {
        chart
            .draw_series(LineSeries::new(
                rows.iter().map(|r| (r.t, value(r))),
                color.stroke_width(1),
            ))
            .map_err(draw_err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    for s in &run.backtest.signals {
        let price: f64 = s.price.parse().unwrap_or(f64::NAN);
        let (color, size) = match (s.side, s.throttled) {
            (Side::Buy, false) => (BUY_SENT.filled(), 7),
            (Side::Buy, true) => (BUY_HELD.filled(), 7),
            (Side::Sell, false) => (SELL_SENT.filled(), 7),
            (Side::Sell, true) => (SELL_HELD.filled(), 7),
        };
        let marker = match s.side {
            Side::Buy => TriangleMarker::new((s.t, price), size, color),
            // A SELL points down: the same triangle drawn from a negative size.
            Side::Sell => TriangleMarker::new((s.t, price), -size, color),
        };
        chart.draw_series(std::iter::once(marker)).map_err(draw_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(THRESHOLD)
        .draw()
        .map_err(draw_err)
}

fn rsi_panel(area: &Area<'_>, rows: &[IndicatorRow], p: &Preset, x: std::ops::Range<i64>) -> Result<(), ReportError> {
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(22)
        .y_label_area_size(80)
        .build_cartesian_2d(x.clone(), 0.0..100.0)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&|t| utc(*t))
        .y_labels(5)
        .y_desc(format!("RSI (BUY < {}, SELL > {})", p.buy_below, p.sell_above))
        .draw()
        .map_err(draw_err)?;
    for level in [p.buy_below, p.sell_above] {
        chart
            .draw_series(LineSeries::new([(x.start, level), (x.end, level)], THRESHOLD))
            .map_err(draw_err)?;
    }
    chart
        .draw_series(LineSeries::new(rows.iter().map(|r| (r.t, r.rsi)), MA50))
        .map_err(draw_err)?;
    Ok(())
}

fn volume_panel(
    area: &Area<'_>,
    rows: &[IndicatorRow],
    p: &Preset,
    x: std::ops::Range<i64>,
) -> Result<(), ReportError> {
    let top = span(
        rows.iter()
            .filter_map(|r| r.volume_ratio)
            .chain([p.volume_min_ratio, 0.0]),
    )
    .end;
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(22)
        .y_label_area_size(80)
        .build_cartesian_2d(x.clone(), 0.0..top)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&|t| utc(*t))
        .y_labels(4)
        .y_desc(format!("volume gate (min {}x)", p.volume_min_ratio))
        .draw()
        .map_err(draw_err)?;
    // One bar per hour with a ratio: dark where the gate passes, light where it holds a signal back.
    let width = rows.windows(2).map(|w| w[1].t - w[0].t).min().unwrap_or(1).max(1) * 2 / 5;
    chart
        .draw_series(rows.iter().filter_map(|r| {
            let v = r.volume_ratio?;
            let color = if v >= p.volume_min_ratio { MA50 } else { THRESHOLD };
            Some(Rectangle::new([(r.t - width, 0.0), (r.t + width, v)], color.filled()))
        }))
        .map_err(draw_err)?;
    chart
        .draw_series(LineSeries::new(
            [(x.start, p.volume_min_ratio), (x.end, p.volume_min_ratio)],
            SELL_SENT.mix(0.6),
        ))
        .map_err(draw_err)?;
    Ok(())
}

/// The report page: settings, the summary table (one row per preset), then each preset's chart and signals.
pub fn html(source: &str, runs: &[PresetRun<'_>], charts: &[String], s: &BookSettings) -> String {
    let symbol = runs.first().map_or("", |r| r.backtest.symbol.as_str());
    let rate = runs.first().map_or("", |r| r.book.usd_rate.as_str());
    let fee_pct = s
        .fee_rate
        .checked_mul(rust_decimal::Decimal::ONE_HUNDRED)
        .map_or_else(|| "?".to_string(), |pct| pct.normalize().to_string());
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Backtest" } style { (PreEscaped(STYLE)) } }
            body {
                h1 { "Backtest — " (symbol) " from " (source) }
                p {
                    "Each sent BUY buys " (s.amount_usd.normalize()) " USD worth at the candle's close; each sent \
                    SELL sells the same USD amount, at most what the book holds (with nothing held it is skipped, as \
                    the live system skips it: SELL_REQUIRES_POSITION), closing the oldest lots first; what is still \
                    held is marked at the last close. Fee " (fee_pct) " % per order, in the quote currency. \
                    Hypothetical: no slippage, no partial fills; amounts in USD, " (rate) "."
                }
                p {
                    "Protection (when on): each BUY gets a stop-loss and a take-profit at the preset's distance from \
                    its price (or --sl-pct / --tp-pct), triggered on the following candles as the paper exchange \
                    triggers them — a low at the stop fills the stop at its price, a high at the take-profit fills \
                    that, both in one candle: the stop; a SELL signal cancels the protection first, then sells."
                }
                (summary_table(runs))
                @for (run, chart) in runs.iter().zip(charts) {
                    h2 id=(run.preset.name) { (run.preset.name) }
                    // The SVG is drawn by this program from the replay's numbers.
                    (PreEscaped(chart.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim()))
                    (signal_table(&run.backtest))
                }
            }
        }
    }
    .into_string()
}

const STYLE: &str = "body{font-family:sans-serif;font-size:14px;margin:24px;color:#222}\
    table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}\
    th{background:#f3f3f3}td{white-space:nowrap}td.l,th.l{text-align:left}.neg{color:#c62828}.pos{color:#0b8a3c}";

/// The summary as plain text, one line per preset (what the command prints).
pub fn summary_text(runs: &[PresetRun<'_>]) -> String {
    let mut out = String::from(
        "preset                 BUY  SELL  throttled  orders  trades(won)  no-pos  fees USD      net USD       return    \
         protected  TP  SL  cancelled",
    );
    for run in runs {
        let b = &run.book;
        out.push_str(&format!(
            "\n{:<22} {:>3}  {:>4}  {:>9}  {:>6}  {:>6} ({:>2})  {:>4}  {:<12}  {:<12}  {:<8}  {:>9}  {:>2}  {:>2}  {:>9}",
            run.preset.name,
            b.buy_signals,
            b.sell_signals,
            b.throttled,
            b.paper_orders,
            b.closed_trades,
            b.winning_trades,
            b.sells_without_position,
            b.fees_usd.round_dp(4).normalize(),
            b.net_usd.round_dp(4).normalize(),
            return_text(b),
            b.protected,
            b.take_profits,
            b.stop_losses,
            b.protections_cancelled,
        ));
    }
    if let Some(b) = runs.first().map(|r| &r.book) {
        out.push_str(&format!("\n(amounts in USD: {})", b.usd_rate));
    }
    out
}

fn return_text(b: &PaperBook) -> String {
    b.return_pct.map_or_else(|| "—".to_string(), |r| format!("{r:.2} %"))
}

fn money(v: rust_decimal::Decimal) -> Markup {
    let class = if v.is_sign_negative() { "neg" } else { "pos" };
    html! { td class=(class) { (v.round_dp(4).normalize()) } }
}

const SUMMARY_COLUMNS: [&str; 18] = [
    "BUY signals",
    "SELL signals",
    "throttled",
    "paper orders",
    "closed trades (won)",
    "SELLs with nothing held",
    "held at the end",
    "invested (USD)",
    "fees (USD)",
    "realized (USD)",
    "unrealized (USD)",
    "net (USD)",
    "return",
    "protected",
    "take-profits",
    "stops",
    "cancelled by a SELL",
    "open at the end",
];

fn summary_table(runs: &[PresetRun<'_>]) -> Markup {
    html! {
        table id="summary" {
            tr { th class="l" { "preset" } @for c in SUMMARY_COLUMNS { th { (c) } } }
            @for run in runs {
                @let b = &run.book;
                tr {
                    td class="l" { a href={ "#" (run.preset.name) } { (run.preset.name) } }
                    td { (b.buy_signals) } td { (b.sell_signals) } td { (b.throttled) } td { (b.paper_orders) }
                    td { (b.closed_trades) " (" (b.winning_trades) ")" } td { (b.sells_without_position) }
                    td { (b.held.round_dp(8).normalize()) } td { (b.invested_usd.normalize()) }
                    td { (b.fees_usd.round_dp(4).normalize()) }
                    (money(b.realized_usd)) (money(b.unrealized_usd)) (money(b.net_usd))
                    td { (return_text(b)) } td { (b.protected) } td { (b.take_profits) } td { (b.stop_losses) }
                    td { (b.protections_cancelled) } td { (b.protections_open) }
                }
            }
        }
    }
}

fn signal_table(bt: &Backtest) -> Markup {
    html! {
        details {
            summary { "signals" }
            table {
                tr {
                    th class="l" { "candle (UTC)" } th class="l" { "side" } th { "price" } th class="l" { "sent" }
                    th class="l" { "reason" }
                }
                @for s in &bt.signals {
                    tr {
                        td class="l" { (utc(s.t)) } td class="l" { (s.side.as_str()) } td { (s.price) }
                        td class="l" { (if s.throttled { "throttled" } else { "sent" }) } td class="l" { (s.reason) }
                    }
                }
            }
        }
    }
}
