//! `ops replay`: its output over the shipped real candles compared with the committed golden files
//! (functions/evaluator/tests/golden/, which the evaluator's own test steps through too), its charts checked marker by
//! marker, and its report's refusals.

use std::process::Command;

const CASES: &[(&str, &str, &str)] = &[
    (
        "data/candles/ETH_BTC-5m.json",
        "swing-aggressive",
        "ETH_BTC-5m.swing-aggressive.1h.json",
    ),
    (
        "data/candles/XRP_USDT-5m.json",
        "intraday-conservative",
        "XRP_USDT-5m.intraday-conservative.1h.json",
    ),
];

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(root().join("functions/evaluator/tests/golden").join(name)).unwrap()
}

#[test]
fn the_replay_command_reproduces_the_golden_files() {
    for (file, preset, expected) in CASES {
        let out = Command::new(env!("CARGO_BIN_EXE_ops"))
            .arg("replay")
            .current_dir(root())
            .args([file, "--preset", preset])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let got = String::from_utf8(out.stdout).unwrap();
        assert!(
            got.trim_end() == golden(expected).trim_end(),
            "replay of {file} with {preset} differs from {expected}; if the change is intended, regenerate it as \
             functions/evaluator/tests/golden/README.md says and review the diff"
        );
    }
}

/// The markers of an SVG chart of colour `fill`, as the centre of each triangle's points, in document order.
fn markers(svg: &str, fill: &str) -> Vec<(f64, f64)> {
    let tag = format!("fill=\"{fill}\" points=\"");
    svg.match_indices(&tag)
        .map(|(at, _)| {
            let points = &svg[at + tag.len()..];
            let points = &points[..points.find('"').unwrap()];
            let xy: Vec<(f64, f64)> = points
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            assert_eq!(xy.len(), 3, "a triangle: {points}");
            let n = xy.len() as f64;
            (
                xy.iter().map(|p| p.0).sum::<f64>() / n,
                xy.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect()
}

#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
#[test]
fn the_report_chart_puts_every_golden_signal_where_it_belongs() {
    let dir = std::env::temp_dir().join(format!("replay-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, preset, expected) in CASES {
        let (svg, html) = (dir.join("chart.svg"), dir.join("report.html"));
        let out = Command::new(env!("CARGO_BIN_EXE_ops"))
            .arg("replay")
            .current_dir(root())
            // ETH_BTC's BTC at about its January 2018 price; XRP_USDT's quote is pegged (the rate is not used).
            .args([file, "--preset", preset, "--quote-usd", "11500", "--chart"])
            .arg(&svg)
            .arg("--report")
            .arg(&html)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (svg, html) = (
            std::fs::read_to_string(svg).unwrap(),
            std::fs::read_to_string(html).unwrap(),
        );
        let doc: serde_json::Value = serde_json::from_str(&golden(expected)).unwrap();
        let signals = doc["signals"].as_array().unwrap();
        // Per kind (side, sent or throttled): as many markers as signals, each at its candle's time and price — the
        // chart's x is affine in time and y in price, so every marker must sit on the line through the first and
        // the last marker of all kinds (within a pixel of rounding).
        let mut all = Vec::new();
        for (side, throttled, colour) in [
            ("BUY", false, "#0B8A3C"),
            ("BUY", true, "#6FC28A"),
            ("SELL", false, "#C62828"),
            ("SELL", true, "#E88A8A"),
        ] {
            let want: Vec<&serde_json::Value> = signals
                .iter()
                .filter(|s| s["side"] == side && s["throttled"] == throttled)
                .collect();
            let got = markers(&svg, colour);
            assert_eq!(
                got.len(),
                want.len(),
                "{expected}: {side} throttled={throttled} markers"
            );
            for (s, (x, y)) in want.iter().zip(got) {
                let price: f64 = s["price"].as_str().unwrap().parse().unwrap();
                // A SELL triangle points down: its centre sits as far below the price as a BUY's above it.
                all.push((s["t"].as_i64().unwrap() as f64, price, x, y, side));
            }
        }
        assert!(all.len() >= 10, "{expected}: enough signals to check positions");
        let by_t = |a: &&(f64, f64, f64, f64, &str)| a.0;
        let first = all.iter().min_by(|a, b| by_t(a).total_cmp(&by_t(b))).unwrap();
        let last = all.iter().max_by(|a, b| by_t(a).total_cmp(&by_t(b))).unwrap();
        for (t, _, x, _, _) in &all {
            let expect = first.2 + (t - first.0) / (last.0 - first.0) * (last.2 - first.2);
            assert!(
                (x - expect).abs() <= 1.5,
                "{expected}: marker at t={t} drawn at x={x}, expected {expect:.1}"
            );
        }
        let buys: Vec<_> = all.iter().filter(|m| m.4 == "BUY").collect();
        let (lo, hi) = (
            buys.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap(),
            buys.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap(),
        );
        for (_, price, _, y, _) in &buys {
            let expect = lo.3 + (price - lo.1) / (hi.1 - lo.1) * (hi.3 - lo.3);
            assert!(
                (y - expect).abs() <= 1.5,
                "{expected}: BUY at {price} drawn at y={y}, expected {expect:.1}"
            );
        }
        // The report: one summary row, the chart inline, one table row per signal.
        assert_eq!(
            html.matches("<tr><td class=\"l\"><a href=").count(),
            1,
            "{expected}: summary rows"
        );
        assert!(html.contains("<svg"), "{expected}: the chart is inline");
        assert_eq!(
            html.matches("<tr><td class=\"l\">").count() - 1,
            signals.len(),
            "{expected}: signal rows"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_report_covers_every_preset_and_refuses_a_chart_of_all() {
    let dir = std::env::temp_dir().join(format!("replay-all-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("all.html");
    let out = Command::new(env!("CARGO_BIN_EXE_ops"))
        .arg("replay")
        .current_dir(root())
        .args([
            "data/candles/XRP_ETH-1m.json",
            "--preset",
            "all",
            "--fee-pct",
            "0.1",
            "--amount-usd",
            "50",
            "--quote-usd",
            "180",
            "--report",
        ])
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8(out.stdout).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    for p in shared::market::strategy::PRESETS {
        assert!(summary.contains(p.name), "summary names {}", p.name);
        assert!(page.contains(&format!("<h2 id=\"{0}\">{0}</h2>", p.name)));
    }
    assert!(
        summary.contains("(amounts in USD: ETH at 180 USD (given))"),
        "{summary}"
    );
    assert!(page.contains("Each sent BUY buys 50 USD worth"));
    assert!(page.contains("Fee 0.1 % per order"));
    let chart = Command::new(env!("CARGO_BIN_EXE_ops"))
        .arg("replay")
        .current_dir(root())
        .args(["data/candles/XRP_ETH-1m.json", "--preset", "all", "--chart", "x.svg"])
        .output()
        .unwrap();
    assert_eq!(chart.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&chart.stderr).contains("--chart draws one preset"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without a rate for a quote that is not a dollar, the report refuses to guess; with the quote's USD pair beside the
/// candle file, it values every order at that pair's close of the time.
#[test]
fn a_quote_in_another_currency_needs_a_rate_or_its_usd_pair_beside_the_file() {
    let dir = std::env::temp_dir().join(format!("replay-usd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let candles = dir.join("XRP_ETH-1m.json");
    std::fs::copy(root().join("data/candles/XRP_ETH-1m.json"), &candles).unwrap();
    let html = dir.join("r.html");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_ops"))
            .arg("replay")
            .arg(&candles)
            .args(["--preset", "scalp-aggressive", "--report"])
            .arg(&html)
            .output()
            .unwrap()
    };
    let refused = run();
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("quoted in ETH: give --quote-usd RATE"), "{why}");
    // ETH at 180 USD from the first candle on, 200 USD from the second day on.
    let first: i64 = 1_570_752_000_000; // 2019-10-11 00:00 UTC, the series' first candle
    let rows = serde_json::json!([
        [first, 180, 180, 180, 180, 1],
        [first + 86_400_000, 200, 200, 200, 200, 1]
    ]);
    std::fs::write(dir.join("ETH_USD-1d.json"), rows.to_string()).unwrap();
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(
        summary.contains("(amounts in USD: ETH in USD at the closes of ETH_USD-1d.json)"),
        "{summary}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
