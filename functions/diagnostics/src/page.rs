//! The operator page: the same report as HTML, for a person (`Accept: text/html` on the API route, behind the same
//! key). A pass/fail banner, the trading state, the counts, the violations first, the positions and realized P&L from
//! the recorded fills, the orders not yet filled, then every signal with its decision trace and order id. The page
//! is a `maud` template: every value from the tables is HTML-escaped by default, and only the chart's SVG (drawn here
//! from numbers) goes in as it is. It loads nothing else (inline style, no script).

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use plotters::prelude::*;
use serde_json::Value;

const STYLE: &str =
    "body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0 1.5em}\
    td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}#banner{padding:.6em 1em;font-size:1.4em;\
    color:#fff}.pass{background:#1a7f37}.fail{background:#cf222e}";

/// A JSON value as table-cell text: strings as they are, null as empty, anything else in its JSON form.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(id: &str, rows: &[Value], columns: &[(&str, &str)]) -> Markup {
    html! {
        table id=(id) {
            thead { tr { @for (_, title) in columns { th { (title) } } } }
            tbody { @for row in rows { tr { @for (key, _) in columns { td { (cell(&row[*key])) } } } } }
        }
    }
}

/// The report's realized P&L over time: (close time in ms, running sum in USD), in time order. Points that cannot be
/// read are left out (the JSON is the server's own; this only guards the drawing).
fn realized_points(report: &Value) -> Vec<(i64, f64)> {
    let points = report["realized_pnl"].as_array().map(Vec::as_slice).unwrap_or_default();
    points
        .iter()
        .filter_map(|p| {
            let at = DateTime::parse_from_rfc3339(p["at"].as_str()?).ok()?.timestamp_millis();
            let usd = p["cumulative_usd"].as_str()?.parse::<f64>().ok()?;
            usd.is_finite().then_some((at, usd))
        })
        .collect()
}

/// The chart of realized P&L over time as inline SVG (a step line of the running sum in USD, a dot per close, the
/// zero line), drawn as the backtest report's charts are; a sentence instead when nothing was closed.
fn realized_chart(report: &Value) -> Markup {
    let points = realized_points(report);
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return html! { p id="realized-chart" { "No position was closed in this window: no realized P&L yet." } };
    };
    let x = (first.0 - 60_000)..(last.0 + 60_000);
    let (lo, hi) = points
        .iter()
        .fold((0f64, 0f64), |(lo, hi), (_, v)| (lo.min(*v), hi.max(*v)));
    let pad = ((hi - lo) * 0.1).max(1.0);
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (900, 280)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Realized P&L, USD (running sum of closes, fees included)",
                ("sans-serif", 15),
            )
            .margin(8)
            .x_label_area_size(22)
            .y_label_area_size(70)
            .build_cartesian_2d(x.clone(), (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|t| {
                DateTime::<Utc>::from_timestamp_millis(*t)
                    .map_or_else(String::new, |d| d.format("%m-%d %H:%M").to_string())
            })
            .y_desc("USD")
            .draw()?;
        chart.draw_series(LineSeries::new([(x.start, 0.0), (x.end, 0.0)], BLACK.mix(0.3)))?;
        let mut steps = vec![(x.start, 0.0)];
        for (at, usd) in &points {
            let before = steps.last().map_or(0.0, |p| p.1);
            steps.extend([(*at, before), (*at, *usd)]);
        }
        steps.push((x.end, last.1));
        chart.draw_series(LineSeries::new(steps, BLUE.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        // The SVG is drawn here from numbers and fixed captions: nothing in it came from the tables.
        Ok(()) => html! { div id="realized-chart" { (PreEscaped(svg)) } },
        Err(e) => html! { p id="realized-chart" { "The chart could not be drawn: " (e) } },
    }
}

/// The positions from the recorded fills, their realized P&L over time, and the placed orders whose fill is not
/// final yet.
fn holdings(report: &Value, signals: &[Value]) -> Markup {
    // Each position with its latest entry's protection (docs/DESIGN.md §14) beside it.
    let positions: Vec<Value> = report["positions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let mut row = p.clone();
            let x = &p["protection"];
            row["protection_status"] = x["status"].clone();
            row["stop"] = x["stop_price"].clone();
            row["take_profit"] = x["take_profit_price"].clone();
            row
        })
        .collect();
    let positions = table(
        "positions",
        &positions,
        &[
            ("symbol", "symbol"),
            ("quantity", "held"),
            ("average_entry_price", "cost per unit (quote, fees included)"),
            ("realized_pnl_quote", "realized (quote)"),
            ("realized_pnl_usd", "realized (USD)"),
            ("fees_usd", "fees (USD)"),
            ("protection_status", "protection"),
            ("stop", "stop-loss"),
            ("take_profit", "take-profit"),
        ],
    );
    html! {
        h2 { "Positions" } (positions)
        h2 { "Realized P&L over time" } (realized_chart(report))
        h2 { "Open orders" } (open_orders(signals))
    }
}

/// The placed orders whose fill is not final, from the signals' intents.
fn open_orders(signals: &[Value]) -> Markup {
    let open: Vec<Value> = signals
        .iter()
        .filter_map(|s| {
            let intent = &s["order_intent"];
            let placed = intent["status"] == "ORDER_PLACED";
            let status = intent["fill"]["status"].as_str();
            let open = placed && !matches!(status, Some("FILLED" | "CANCELED" | "REJECTED" | "EXPIRED"));
            open.then(|| {
                serde_json::json!({
                    "signal_id": s["signal_id"], "order_id": intent["order_id"], "client_oid": intent["client_oid"],
                    "status": status.unwrap_or("not read yet"), "filled": intent["fill"]["filled_quantity"],
                })
            })
        })
        .collect();
    table(
        "open-orders",
        &open,
        &[
            ("signal_id", "signal"),
            ("order_id", "order id"),
            ("client_oid", "client_oid"),
            ("status", "exchange status"),
            ("filled", "filled"),
        ],
    )
}

/// The PASS/FAIL banner and the trading line.
fn banner(report: &Value, pass: bool, violations: usize) -> Markup {
    let (class, word) = if pass { ("pass", "PASS") } else { ("fail", "FAIL") };
    let trading = &report["trading"];
    let state = match trading["halted"].as_bool() {
        Some(true) => format!(
            "HALTED by {} — {}",
            cell(&trading["halted_by"]),
            cell(&trading["halt_reason"])
        ),
        Some(false) => "running".to_string(),
        None => "unknown (control row unreadable)".to_string(),
    };
    html! {
        div id="banner" class=(class) {
            (word) ": " (violations) " violation(s) over " (cell(&report["total"])) " signal(s), last "
            (cell(&report["hours"])) " h"
        }
        p id="trading" { "Trading: " (state) }
    }
}

/// The page for `report` (the API's JSON body, as a value).
pub fn render(report: &Value) -> String {
    let pass = report["pass"].as_bool() == Some(true);
    let violations = report["violations"].as_array().map(Vec::as_slice).unwrap_or_default();
    let signals = report["signals"].as_array().map(Vec::as_slice).unwrap_or_default();
    let counts = report["counts"].as_object().into_iter().flatten();
    let violation_columns = [
        ("violation", "violation"),
        ("signal_id", "signal"),
        ("timestamp", "emitted"),
        ("message", "message"),
        ("details", "details"),
    ];
    let signal_columns = [
        ("timestamp", "emitted"),
        ("signal_id", "signal"),
        ("price", "price"),
        ("decision_type", "decision"),
        ("reason_code", "reason code"),
        ("reason_message", "reason"),
        ("order_id", "order id"),
        ("exchange_error_snippet", "exchange said"),
        ("violations", "violations"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Signal orchestrator · invariants" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (banner(report, pass, violations.len()))
                h2 { "Counts" }
                table id="counts" { tbody { @for (name, value) in counts { tr { th { (name) } td { (cell(value)) } } } } }
                h2 { "Violations" } (table("violations", violations, &violation_columns))
                (holdings(report, signals))
                h2 { "Signals" } (table("signals", signals, &signal_columns))
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_page_escapes_what_the_tables_hold_and_says_fail_first() {
        let report = json!({
            "pass": false, "total": 1, "hours": 24,
            "counts": { "missing_intent": 1 },
            "trading": { "halted": true, "halted_by": "@ops", "halt_reason": "<b>maintenance</b>" },
            "violations": [{ "violation": "MISSING_INTENT", "signal_id": "ETH_BTC:BUY:1", "timestamp": "t",
                             "message": "Signal was sent but no order_intent exists", "details": {} }],
            "signals": [{ "signal_id": "ETH_BTC:BUY:1", "reason_message": "<script>alert(1)</script>",
                          "order_id": null, "violations": ["MISSING_INTENT"] },
                        { "signal_id": "ETH_BTC:BUY:2", "order_intent": { "status": "ORDER_PLACED", "order_id": "7",
                          "client_oid": "so1-x", "fill": { "status": "PARTIALLY_FILLED", "filled_quantity": "0.5" } } }],
            "positions": [{ "symbol": "ETH_BTC", "quantity": "0.5", "realized_pnl_usd": "-1.5",
                            "protection": { "status": "ACTIVE", "stop_price": "0.049", "take_profit_price": "0.051",
                                            "client_oids": [] } }],
            "realized_pnl": [
                { "at": "2026-01-02T10:00:00Z", "symbol": "ETH_BTC", "realized_usd": "2", "cumulative_usd": "2" },
                { "at": "2026-01-02T12:00:00Z", "symbol": "ETH_BTC", "realized_usd": "-3.5", "cumulative_usd": "-1.5" }
            ]
        });
        let page = render(&report);
        assert!(page.contains("<div id=\"banner\" class=\"fail\">FAIL: 1 violation(s) over 1 signal(s), last 24 h"));
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("HALTED by @ops — &lt;b&gt;maintenance&lt;/b&gt;"));
        assert!(page.find("id=\"violations\"") < page.find("id=\"signals\""));
        assert!(page.contains("<td>ETH_BTC</td><td>0.5</td>"), "the position");
        assert!(
            page.contains("<td>ACTIVE</td><td>0.049</td><td>0.051</td>"),
            "its protection"
        );
        assert!(
            page.contains("<td>so1-x</td><td>PARTIALLY_FILLED</td><td>0.5</td>"),
            "the open order"
        );
        let chart = &page[page.find("id=\"realized-chart\"").unwrap()..page.find("<h2>Open orders").unwrap()];
        assert!(chart.contains("<svg") && chart.contains("<polyline"), "{chart}");
        assert_eq!(chart.matches("<circle").count(), 2, "a dot per close");
    }

    proptest::proptest! {
        /// One escape rule: the page's template escapes any text exactly as the Telegram messages do.
        #[test]
        fn the_template_escapes_as_the_messages_do(text in "\\PC*") {
            proptest::prop_assert_eq!(html! { (text) }.into_string(), shared::text::html_escape(&text));
        }
    }

    #[test]
    fn no_close_no_chart_but_a_sentence() {
        let page = render(&json!({ "pass": true, "positions": [], "realized_pnl": [] }));
        assert!(page.contains("No position was closed in this window"));
        assert!(!page.contains("<svg"));
    }
}
