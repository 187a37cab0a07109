//! One bad symbol never stops the others: ten symbols against a local exchange where one answers with malformed
//! JSON — nine are evaluated, one is counted as an error (logged with DATA_MISSING), the run succeeds.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use shared::adapters::crypto_com::candles::CryptoComCandles;
use shared::fakes::{ManualClock, MemoryNotifier, MemoryQueue, MemoryStore};
use shared::market::candles::{parse_rows, resample, Timeframe};
use shared::watchlist::WatchlistEntry;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_malformed_response_for_one_symbol_among_ten() {
    let hourly = resample(
        &parse_rows(include_str!("../../../data/candles/ETH_BTC-5m.json")).unwrap(),
        Timeframe::H1,
    );
    let rows: Vec<_> = hourly[..250]
        .iter()
        .map(|c| {
            json!({ "o": c.open.to_string(), "h": c.high.to_string(), "l": c.low.to_string(),
            "c": c.close.to_string(), "v": c.volume.to_string(), "t": c.open_ms })
        })
        .collect();
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/public/get-candlestick"))
        .and(query_param("instrument_name", "S05_USDT"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"code\":0,\"result\":{\"data\":[{\"o\":"))
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/public/get-candlestick"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "code": 0, "result": { "data": rows } })))
        .mount(&s)
        .await;

    let entries: Vec<WatchlistEntry> = (0..10)
        .map(|i| {
            serde_json::from_value(json!({ "symbol": format!("S{i:02}_USDT"), "preset": "swing-aggressive" })).unwrap()
        })
        .collect();
    let store = MemoryStore::with_watchlist(entries);
    let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
    let clock = ManualClock::new(Utc::now(), hourly[249].open_ms + Timeframe::H1.millis());
    let market = CryptoComCandles::new(s.uri(), Duration::from_secs(2)).unwrap();
    let ev = evaluator::handler::Evaluator {
        concurrency: 8,
        ..evaluator::handler::Evaluator::over(&store, &queue, &market, &clock, &notifier)
    };
    let summary = ev.run().await.unwrap();
    assert_eq!(
        (summary.symbols, summary.evaluated, summary.errors),
        (10, 9, 1),
        "{summary:?}"
    );
    assert!(store.signals().iter().all(|s| s.symbol.as_str() != "S05_USDT"));
}
