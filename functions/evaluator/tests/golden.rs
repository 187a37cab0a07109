//! The replay command's output over the shipped real candles, compared with the committed golden files, and the
//! evaluator function itself checked against them: stepped through the same candles it sends exactly the signals the
//! golden file marks as not throttled.

use std::process::Command;

use chrono::Utc;
use shared::adapters::replay::ReplayMarketData;
use shared::candles::Timeframe;
use shared::fakes::{ManualClock, MemoryNotifier, MemoryQueue, MemoryStore};
use shared::model::WatchlistEntry;

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

#[test]
fn the_replay_command_reproduces_the_golden_files() {
    for (file, preset, expected) in CASES {
        let out = Command::new(env!("CARGO_BIN_EXE_replay"))
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

        let entry: WatchlistEntry =
            serde_json::from_value(serde_json::json!({ "symbol": symbol, "preset": preset })).unwrap();
        let store = MemoryStore::with_watchlist(vec![entry]);
        let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
        let clock = ManualClock::new(Utc::now(), 0);
        let ev = evaluator::handler::Evaluator {
            watchlist: &store,
            signals: &store,
            queue: &queue,
            market: &market,
            clock: &clock,
            alerts: &store,
            notifier: &notifier,
            timeframe: Timeframe::H1,
            candle_count: 200,
            concurrency: 1,
            claim_lease_ms: 60_000,
            mode: shared::orchestration::ExecutionMode::Paper,
        };
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
