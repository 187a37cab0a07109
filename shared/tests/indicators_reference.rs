//! The Rust indicators against values computed independently (`tests/data/indicators_reference.py`) over a real
//! candle file: RSI, MA50, MA200, EMA10, ATR and the volume ratio of 150 hourly candles.

use shared::backtest::{self, BacktestSettings};
use shared::candles::{parse_rows, Timeframe};
use shared::ids::Symbol;
use shared::strategy;

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
