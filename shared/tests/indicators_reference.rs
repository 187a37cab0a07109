//! The Rust indicators against values computed independently (`tests/data/indicators_reference.py`) over a real
//! candle file: RSI, MA50, MA200, EMA10, ATR and the volume gate of 150 hourly candles; the volume gate on every
//! hour of the three shipped files.

use shared::backtest::{self, BacktestSettings, History};
use shared::ids::Symbol;
use shared::market::candles::{parse_rows, Timeframe};
use shared::market::strategy;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn indicators_match_the_independent_reference() {
    let reference: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("data/indicators-ETH_BTC-1h.json")).unwrap();
    let candles = parse_rows(include_str!("../../data/candles/ETH_BTC-5m.json")).unwrap();
    let preset = strategy::preset("swing-aggressive").unwrap();
    let settings = BacktestSettings {
        preset,
        timeframe: Timeframe::H1,
        candle_count: 200,
        cooldown_ms: 60_000,
        min_price_change_pct: 1.0,
    };
    let ours = backtest::run(&Symbol::parse("ETH_BTC").unwrap(), &candles, &settings).indicators;
    assert_eq!(reference.len(), 150);
    for (want, got) in reference.iter().zip(&ours) {
        let t = want["t"].as_i64().unwrap();
        assert_eq!(got.t, t);
        for (name, value) in [
            ("rsi", got.rsi),
            ("ma50", got.ma50),
            ("ma200", got.ma200),
            ("ema10", got.ema10),
        ] {
            let w = want[name].as_f64().unwrap();
            assert!(close(value, w), "{name} at {t}: {value} vs reference {w}");
        }
        for (name, value) in [("atr", got.atr), ("volume_ratio", got.volume_ratio)] {
            match (value, want[name].as_f64()) {
                (Some(v), Some(w)) => assert!(close(v, w), "{name} at {t}: {v} vs reference {w}"),
                (None, None) => {}
                (v, w) => panic!("{name} at {t}: {v:?} vs reference {w:?}"),
            }
        }
    }
}

/// The volume gate at every hourly close of the three shipped files (two 5-minute, one 1-minute), against the
/// independent implementation of the original's `calculate_volume_index` (`data/volume-gate-1h.json`).
#[test]
fn volume_gate_matches_the_independent_reference_on_every_hour_of_the_shipped_files() {
    let reference: std::collections::BTreeMap<String, Vec<(i64, Option<f64>)>> =
        serde_json::from_str(include_str!("data/volume-gate-1h.json")).unwrap();
    let files = [
        ("ETH_BTC-5m.json", include_str!("../../data/candles/ETH_BTC-5m.json")),
        ("XRP_ETH-1m.json", include_str!("../../data/candles/XRP_ETH-1m.json")),
        ("XRP_USDT-5m.json", include_str!("../../data/candles/XRP_USDT-5m.json")),
    ];
    for (name, text) in files {
        let want = &reference[name];
        let history = History::new(&parse_rows(text).unwrap(), Timeframe::H1, 200);
        let got: Vec<(i64, Option<f64>)> = history
            .moments()
            .map(|m| (m.open_ms(), shared::market::indicators::volume_index(m.five_min)))
            .collect();
        assert_eq!(got.len(), want.len(), "{name}: hourly closes");
        let with_data = want.iter().filter(|(_, r)| r.is_some()).count();
        assert!(
            with_data * 10 > want.len() * 9,
            "{name}: {with_data} of {} hours with a ratio",
            want.len()
        );
        for ((t, g), (wt, w)) in got.iter().zip(want) {
            assert_eq!(t, wt, "{name}");
            match (g, w) {
                (Some(g), Some(w)) => assert!(close(*g, *w), "{name} at {t}: {g} vs reference {w}"),
                (None, None) => {}
                _ => panic!("{name} at {t}: {g:?} vs reference {w:?}"),
            }
        }
    }
}
