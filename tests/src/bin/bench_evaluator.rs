//! `bench-evaluator`: (1) the CPU cost of indicators + rules for 100 symbols × 300 real candles; (2) the wall time of
//! one evaluator run over 100 symbols against a local fake exchange that answers `public/get-candlestick` after 50 ms,
//! at concurrency 8 and 16, never more than 100 requests in any second (the public limit). Prints numbers; asserts nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use shared::adapters::crypto_com::candles::CryptoComCandles;
use shared::fakes::{ManualClock, MemoryNotifier, MemoryQueue, MemoryStore};
use shared::ids::Symbol;
use shared::market::candles::{parse_rows, resample, Timeframe};
use shared::market::strategy;
use shared::watchlist::WatchlistEntry;
use tests::http::{serve, HttpResponse};

const SYMBOLS: usize = 100;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let five_min = parse_rows(include_str!("../../../data/candles/ETH_BTC-5m.json"))?;
    let preset = strategy::preset("swing-aggressive").ok_or("preset")?;

    // (1) CPU: 100 different 300-candle windows of real 5-minute candles (the volume gate on their last 11).
    let windows: Vec<&[shared::market::candles::Candle]> =
        (0..SYMBOLS).map(|i| &five_min[i * 50..i * 50 + 300]).collect();
    let mut runs = Vec::new();
    let mut signals = 0;
    for _ in 0..50 {
        let t = Instant::now();
        signals = windows
            .iter()
            .filter_map(|w| {
                strategy::evaluate_candles(preset, w, &w[w.len() - shared::market::indicators::VOLUME_CANDLES..])
            })
            .filter(|(_, v)| matches!(v, strategy::Verdict::Signal { .. }))
            .count();
        runs.push(t.elapsed());
    }
    runs.sort();
    println!(
        "indicators + rules, {SYMBOLS} symbols × 300 candles: min {:.3} ms, median {:.3} ms per evaluation of all {SYMBOLS} ({signals} signals)",
        ms(runs[0]),
        ms(runs[runs.len() / 2])
    );

    // (2) Fan-out against a fake exchange with 50 ms latency per call.
    let hourly = resample(&five_min, Timeframe::H1);
    let last300 = &hourly[hourly.len() - 300..];
    let rows: Vec<serde_json::Value> = last300
        .iter()
        .map(|c| {
            serde_json::json!({ "o": c.open.to_string(), "h": c.high.to_string(), "l": c.low.to_string(),
            "c": c.close.to_string(), "v": c.volume.to_string(), "t": c.open_ms })
        })
        .collect();
    let body = Arc::new(serde_json::json!({ "code": 0, "result": { "interval": "1h", "data": rows } }).to_string());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let served = Arc::new(AtomicUsize::new(0));
    let (body2, served2) = (body.clone(), served.clone());
    serve(listener, move |_| {
        let (body, served) = (body2.clone(), served2.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            served.fetch_add(1, Ordering::SeqCst);
            HttpResponse::new(200, body.as_bytes())
        }
    });
    let entries: Vec<WatchlistEntry> = (0..SYMBOLS)
        .map(|i| Symbol::parse(&format!("S{i:03}_USDT")).map(WatchlistEntry::new))
        .collect::<Result<_, _>>()?;
    let store = MemoryStore::with_watchlist(entries);
    let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
    let clock = ManualClock::new(Utc::now(), last300[299].open_ms + Timeframe::H1.millis());
    for concurrency in [8, 16] {
        let market = CryptoComCandles::new(base.clone(), Duration::from_secs(5))?;
        let ev = evaluator::handler::Evaluator {
            concurrency,
            ..evaluator::handler::Evaluator::over(&store, &queue, &market, &clock, &notifier)
        };
        let mut walls = Vec::new();
        for _ in 0..5 {
            served.store(0, Ordering::SeqCst);
            let t = Instant::now();
            let s = ev.run().await?;
            walls.push(t.elapsed());
            assert_eq!((s.evaluated, s.errors), (SYMBOLS, 0));
            // Let the rate-limit bucket refill, as between two scheduled runs.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        walls.sort();
        println!(
            "evaluator run, {SYMBOLS} symbols, 50 ms per get-candlestick, concurrency {concurrency}: min {:.0} ms, median {:.0} ms, max {:.0} ms ({} requests per run; never more than 100 in any second)",
            ms(walls[0]),
            ms(walls[walls.len() / 2]),
            ms(walls[walls.len() - 1]),
            served.load(Ordering::SeqCst)
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
