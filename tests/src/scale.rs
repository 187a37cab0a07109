//! The stand-ins of the scale bench (`bench-scale`) and of the budget tests (`tests/budgets.rs`): a public candle API
//! that keeps the exchange's limit of 100 requests in any second (429 over it), and a burst of signals decided by
//! several orchestrator containers against the exchange stand-in keeping create-order's 15 per 100 ms (42901 over it).
//! The stores are in memory: the figures are the exchange's share of the time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use rust_decimal::Decimal;
use shared::adapters::crypto_com::candles::{CryptoComCandles, DEFAULT_BUDGET, PUBLIC_LIMIT};
use shared::adapters::crypto_com::{CryptoCom, CryptoComSettings, ORDER_LIMIT};
use shared::adapters::rate::Budget;
use shared::adapters::secrets::{Credentials, SecretString};
use shared::fakes::{ManualClock, MemoryNotifier, MemoryQueue, MemoryStore};
use shared::flow::orchestration::{Orchestrator, OrchestratorSettings, Outcome};
use shared::ids::{Side, Symbol};
use shared::market::candles::{parse_rows, resample, Candle, Timeframe};
use shared::order::ExecutionMode;
use shared::ports::Stores;
use shared::signal::SignalMessage;
use shared::watchlist::WatchlistEntry;

use crate::exchange::ExchangeStandIn;
use crate::http::HttpResponse;
use crate::provision::BoxError;

/// Every stand-in answers after this long (the rate limits count arrivals, before it).
pub const LATENCY: Duration = Duration::from_millis(50);

/// The public candle API: a real hourly window (and the 5-minute candles before its end), 50 ms per answer, at most
/// 100 requests in any second (429 over it).
pub struct Market {
    base: String,
    served: Arc<AtomicUsize>,
    limited: Arc<AtomicUsize>,
    /// Market time: the close of the window's last candle.
    market_ms: i64,
}

pub struct EvaluatorRun {
    pub requests: usize,
    pub limited: usize,
    /// Symbols that failed the run (a 429 still there after the retries is one).
    pub errors: usize,
    pub run_s: f64,
    pub floor_s: f64,
}

impl Market {
    pub async fn start() -> Result<Market, BoxError> {
        let five_min = parse_rows(include_str!("../../data/candles/ETH_BTC-5m.json"))?;
        let hourly = resample(&five_min, Timeframe::H1);
        let (served, limited) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let bodies: Arc<Mutex<(String, String)>> = Arc::default();
        serve(listener, bodies.clone(), served.clone(), limited.clone());
        let mut market = Market {
            base,
            served,
            limited,
            market_ms: 0,
        };
        // The first window (its last 201 hours, and the 5-minute candles up to its end) that takes two requests.
        for end in 201..hourly.len() {
            let window = &hourly[end - 201..end];
            let market_ms = window[200].open_ms + Timeframe::H1.millis();
            let five: Vec<&Candle> = five_min.iter().filter(|c| c.open_ms < market_ms).collect();
            *bodies.lock().map_err(|_| "poisoned")? = (
                body(window.iter(), "1h"),
                body(five[five.len().saturating_sub(12)..].iter().copied(), "5m"),
            );
            market.market_ms = market_ms;
            if market.run(1, 1).await?.requests == 2 {
                // The runs measured next start with a fresh window, as a scheduled run does.
                tokio::time::sleep(PUBLIC_LIMIT.window).await;
                return Ok(market);
            }
        }
        Err("no window of the shipped candles takes two requests".into())
    }

    /// One evaluator run over `symbols` symbols, `concurrency` at a time, at the default public budget.
    pub async fn run(&self, symbols: usize, concurrency: usize) -> Result<EvaluatorRun, BoxError> {
        let entries: Vec<WatchlistEntry> = (0..symbols)
            .map(|i| Symbol::parse(&format!("S{i:04}_USDT")).map(WatchlistEntry::new))
            .collect::<Result<_, _>>()?;
        let store = MemoryStore::with_watchlist(entries);
        let (queue, notifier) = (MemoryQueue::default(), MemoryNotifier::default());
        let clock = ManualClock::new(Utc::now(), self.market_ms);
        let candles = CryptoComCandles::with_budget(self.base.clone(), Duration::from_secs(10), DEFAULT_BUDGET)?;
        let ev = evaluator::handler::Evaluator {
            concurrency,
            ..evaluator::handler::Evaluator::over(&store, &queue, &candles, &clock, &notifier)
        };
        self.served.store(0, Ordering::SeqCst);
        self.limited.store(0, Ordering::SeqCst);
        let t = Instant::now();
        let summary = ev.run().await?;
        let run_s = t.elapsed().as_secs_f64();
        let requests = self.served.load(Ordering::SeqCst) + self.limited.load(Ordering::SeqCst);
        Ok(EvaluatorRun {
            requests,
            limited: self.limited.load(Ordering::SeqCst),
            errors: summary.errors,
            run_s,
            // The work the run needs: the requests served (a 429 asked again is counted once).
            floor_s: self.served.load(Ordering::SeqCst) as f64 / PUBLIC_LIMIT.per_second_f64(),
        })
    }
}

fn body<'a>(candles: impl Iterator<Item = &'a Candle>, interval: &str) -> String {
    let rows: Vec<serde_json::Value> = candles
        .map(|c| {
            serde_json::json!({ "o": c.open.to_string(), "h": c.high.to_string(), "l": c.low.to_string(),
            "c": c.close.to_string(), "v": c.volume.to_string(), "t": c.open_ms })
        })
        .collect();
    serde_json::json!({ "code": 0, "result": { "interval": interval, "data": rows } }).to_string()
}

/// Answers get-candlestick by its `timeframe` after [`LATENCY`]; the 101st request within a second gets a 429.
fn serve(
    listener: tokio::net::TcpListener,
    bodies: Arc<Mutex<(String, String)>>,
    served: Arc<AtomicUsize>,
    limited: Arc<AtomicUsize>,
) {
    let arrivals: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
    crate::http::serve(listener, move |req| {
        let (bodies, served, limited, arrivals) = (bodies.clone(), served.clone(), limited.clone(), arrivals.clone());
        async move {
            let admitted = arrivals.lock().is_ok_and(|mut a| {
                let now = Instant::now();
                while a.front().is_some_and(|t| now.duration_since(*t) >= PUBLIC_LIMIT.window) {
                    a.pop_front();
                }
                let ok = a.len() < PUBLIC_LIMIT.count;
                if ok {
                    a.push_back(now);
                }
                ok
            });
            tokio::time::sleep(LATENCY).await;
            if !admitted {
                limited.fetch_add(1, Ordering::SeqCst);
                return HttpResponse::new(429, r#"{"code":42901,"message":"TOO_MANY_REQUESTS"}"#);
            }
            served.fetch_add(1, Ordering::SeqCst);
            let five = req.query().iter().any(|(k, v)| k == "timeframe" && v == "5m");
            let text = bodies
                .lock()
                .map(|b| if five { b.1.clone() } else { b.0.clone() })
                .unwrap_or_default();
            HttpResponse::new(200, text)
        }
    });
}

pub struct Burst {
    pub decided_s: f64,
    pub floor_s: f64,
    pub orders: usize,
    pub limited: usize,
    pub redelivered: usize,
    pub doubles: usize,
}

/// `signals` BUY signals decided by `containers` orchestrator containers over one queue, `batch` messages at a time, against the rate-limited stand-in.
pub async fn burst(signals: usize, containers: usize, batch: usize, budget: Budget) -> Result<Burst, BoxError> {
    let stand_in = ExchangeStandIn::start().await?;
    stand_in.set_latency(LATENCY);
    stand_in.limit_orders(ORDER_LIMIT.count, ORDER_LIMIT.window);
    let store = MemoryStore::default();
    // A burst this size is over the default daily notional cap: the operator raised it (`/limits`).
    let control = shared::risk::Control {
        limits: shared::risk::RiskLimits::default(),
        ..shared::risk::Control::default()
    };
    shared::ports::ControlStore::replace_control(&store, 0, &control).await?;
    let clock = ManualClock::new(Utc::now(), 0);
    let sym = Symbol::parse("ETH_USDT")?;
    let queue: Mutex<VecDeque<SignalMessage>> = Mutex::default();
    for i in 0..signals {
        let s = shared::fakes::sent_signal(&sym, Side::Buy, 1_000 + i as i64, Decimal::from(2_000), Utc::now());
        store.insert_signal(s.clone());
        queue.lock().map_err(|_| "poisoned")?.push_back(s.to_message());
    }
    let settings = OrchestratorSettings {
        mode: ExecutionMode::Live,
        ..OrchestratorSettings::default()
    };
    let containers: Vec<CryptoCom> = (0..containers)
        .map(|_| adapter(&stand_in.url, budget))
        .collect::<Result<_, _>>()?;
    let guard = shared::risk::ControlCache::default();
    let redelivered = AtomicUsize::new(0);
    let t = Instant::now();
    join_all(containers.iter().map(|ex| {
        let orch = Orchestrator {
            stores: Stores::of(&store),
            guard: &guard,
            exchange: ex,
            clock: &clock,
            settings,
        };
        let (queue, redelivered) = (&queue, &redelivered);
        async move {
            loop {
                let batch: Vec<SignalMessage> = match queue.lock() {
                    Ok(mut q) => (0..batch).map_while(|_| q.pop_front()).collect(),
                    Err(_) => return,
                };
                if batch.is_empty() {
                    return;
                }
                let outcomes = join_all(batch.iter().map(|m| orch.process(m))).await;
                for (m, o) in batch.into_iter().zip(outcomes) {
                    if !matches!(o, Ok(Outcome::Decided(..))) {
                        redelivered.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut q) = queue.lock() {
                            q.push_back(m);
                        }
                    }
                }
            }
        }
    }))
    .await;
    let decided_s = t.elapsed().as_secs_f64();
    let calls = stand_in.calls();
    let accepted = calls.get("private/create-order accepted").copied().unwrap_or(0);
    Ok(Burst {
        decided_s,
        floor_s: signals as f64 / ORDER_LIMIT.per_second_f64(),
        orders: accepted,
        limited: calls.get("private/create-order rate limited").copied().unwrap_or(0),
        redelivered: redelivered.load(Ordering::SeqCst),
        doubles: stand_in.orders().len().saturating_sub(signals) + accepted.saturating_sub(signals),
    })
}

fn adapter(url: &str, order_budget: Budget) -> Result<CryptoCom, BoxError> {
    Ok(CryptoCom::new(
        CryptoComSettings {
            base_url: url.to_string(),
            timeout: Duration::from_secs(10),
            rate_limit_retries: 3,
            backoff: Duration::from_millis(200),
            order_budget,
        },
        Credentials {
            api_key: SecretString::new(crate::exchange::API_KEY.into()),
            api_secret: SecretString::new(crate::exchange::API_SECRET.into()),
        },
    )?)
}
