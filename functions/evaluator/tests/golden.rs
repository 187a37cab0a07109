//! The evaluator function checked against the replay command's committed golden files (ops/tests/replay.rs checks
//! the command reproduces them): stepped through the same candles it sends exactly the signals the golden file marks
//! as not throttled.

use chrono::Utc;
use shared::adapters::replay::ReplayMarketData;
use shared::fakes::{ManualClock, MemoryNotifier, MemoryQueue, MemoryStore};
use shared::ids::Symbol;
use shared::market::candles::Timeframe;
use shared::watchlist::{Setting, WatchlistEntry};

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
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(root().join("functions/evaluator/tests/golden").join(name)).unwrap()
}

#[tokio::test]
async fn the_evaluator_sends_exactly_the_unthrottled_signals_of_the_golden_files() {
    let market = ReplayMarketData::embedded().unwrap();
    for (_, preset, expected) in CASES {
        let doc: serde_json::Value = serde_json::from_str(&golden(expected)).unwrap();
        let symbol = doc["symbol"].as_str().unwrap();
        let mut want: Vec<(i64, String)> = doc["signals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["throttled"] == false)
            .map(|s| (s["t"].as_i64().unwrap(), s["side"].as_str().unwrap().to_string()))
            .collect();
        want.sort();

        let entry = WatchlistEntry {
            preset: Setting::read(preset),
            ..WatchlistEntry::new(Symbol::parse(symbol).unwrap())
        };
        let store = MemoryStore::with_watchlist(vec![entry]);
        let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
        let clock = ManualClock::new(Utc::now(), 0);
        let ev = evaluator::handler::Evaluator::over(&store, &queue, &market, &clock, &notifier);
        for t in market.close_times(Timeframe::H1) {
            clock.set_market_ms(t);
            ev.run().await.unwrap();
        }
        let mut sent: Vec<(i64, String)> = queue
            .sent()
            .iter()
            .map(|m| (m.signal_id.candle_open_ms(), m.side.to_string()))
            .collect();
        sent.sort();
        assert!(!want.is_empty());
        assert_eq!(sent, want, "{symbol}: the evaluator and the replay command disagree");
    }
}
