//! Helpers shared by the integration tests: signal and intent builders, the paper exchange, the local Telegram
//! sink, exchanges that count or stall orders, and the functions wired over one store as the tests run them.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared::ids::{ClientOid, Side, Symbol};
use shared::money::UsdPrice;
use shared::ports::{Exchange, ExchangeError, Lookup, OrderAck, OrderRequest, Stores};
use shared::signal::{SignalMessage, SignalRecord};

pub fn signal(symbol: &str, side: Side, candle_open_ms: i64, created_at: DateTime<Utc>) -> SignalRecord {
    let sym = Symbol::parse(symbol).unwrap();
    let mut s = shared::fakes::sent_signal(&sym, side, candle_open_ms, Decimal::new(921, 4), created_at);
    s.indicators = [("rsi".to_string(), 31.5)].into_iter().collect();
    s
}

/// The paper exchange with a minimum of `min_usd` and USD prices for the quote currencies the tests use (at about
/// their level on the dates of the shipped candles).
pub fn paper(min_usd: i64) -> shared::adapters::paper::PaperExchange {
    let prices = [("BTC", 12_000), ("ETH", 180)]
        .into_iter()
        .map(|(c, p)| (c.to_string(), Decimal::from(p)))
        .collect();
    shared::adapters::paper::PaperExchange::new(shared::money::Usd(Decimal::from(min_usd)), prices)
}

/// The webhook configured as deployed over a test's tables, answering through the local Telegram sink (which also
/// stands in for the exchange's public prices); `/page` links signed with the local diagnostics key when
/// `page_base_url` is given.
pub fn webhook_config(
    env: &tests::TestEnv,
    sink: &Sink,
    bot_username: Option<&str>,
    page_base_url: Option<&str>,
) -> telegram_webhook::config::WebhookConfig {
    telegram_webhook::config::WebhookConfig {
        tables: env.p.tables.clone(),
        telegram: shared::config::TelegramConfig {
            base_url: sink.base.clone(),
            secret_id: "signal-orchestrator/telegram".into(),
        },
        patience: chrono::Duration::seconds(120).into(),
        exchange_base_url: sink.base.clone(),
        bot_username: bot_username.map(str::to_string),
        page_secret_id: page_base_url.map(|_| "signal-orchestrator/diagnostics".into()),
        page_base_url: page_base_url.map(str::to_string),
    }
}

/// The local Telegram sink, started on a free loopback port; killed when dropped.
pub struct Sink {
    child: std::process::Child,
    pub base: String,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sink {
    pub async fn start() -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port).await
    }

    /// A sink on this port (a restart after an outage: the adapters keep their base URL).
    pub async fn start_on(port: u16) -> Sink {
        let base = format!("http://127.0.0.1:{port}");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_telegram-sink"))
            .arg(format!("127.0.0.1:{port}"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let sink = Sink { child, base };
        for _ in 0..100 {
            if tests::http_get(&format!("{}/messages", sink.base)).await.is_ok() {
                return sink;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the Telegram sink did not start");
    }

    /// The texts the sink received, in order.
    pub async fn texts(&self) -> Vec<String> {
        let messages: Vec<serde_json::Value> = tests::http_get(&format!("{}/messages", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        messages
            .iter()
            .filter_map(|m| m["text"].as_str().map(str::to_string))
            .collect()
    }
}

pub fn message(s: &SignalRecord) -> SignalMessage {
    s.to_message()
}

/// An SQS batch of one record carrying `s`'s queue message, as Lambda hands it to the orchestrator.
pub fn sqs_event(s: &SignalRecord) -> aws_lambda_events::sqs::SqsEvent {
    let mut record = aws_lambda_events::sqs::SqsMessage::default();
    record.message_id = Some(s.signal_id.to_string());
    record.body = Some(serde_json::to_string(&s.to_message()).unwrap());
    let mut event = aws_lambda_events::sqs::SqsEvent::default();
    event.records = vec![record];
    event
}

/// Wraps an exchange and counts create-order calls that reach it, in all and per client_oid.
pub struct CountingExchange<E> {
    pub inner: E,
    pub creates: AtomicUsize,
    per_oid: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl<E> CountingExchange<E> {
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            creates: AtomicUsize::new(0),
            per_oid: Default::default(),
        }
    }
    pub fn creates(&self) -> usize {
        self.creates.load(Ordering::SeqCst)
    }
    /// The client_oids sent more than once, with their counts.
    pub fn resent(&self) -> Vec<(String, usize)> {
        let map = self.per_oid.lock().unwrap();
        map.iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }
}

#[async_trait]
impl<E: Exchange> Exchange for CountingExchange<E> {
    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError> {
        self.inner.usd_price(currency).await
    }
    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        *self
            .per_oid
            .lock()
            .unwrap()
            .entry(req.client_oid.as_str().to_string())
            .or_default() += 1;
        self.inner.place_order(req).await
    }
    async fn find_order(&self, client_oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        self.inner.find_order(client_oid).await
    }
    async fn order_detail(
        &self,
        order: &shared::order::PlacedOrder,
    ) -> Result<Option<shared::order::Reported>, ExchangeError> {
        self.inner.order_detail(order).await
    }
    async fn open_orders(&self) -> Result<Vec<shared::order::OpenOrder>, ExchangeError> {
        self.inner.open_orders().await
    }
    async fn create_oco(&self, oco: &shared::order::Oco) -> Result<shared::order::OcoAck, ExchangeError> {
        self.inner.create_oco(oco).await
    }
    async fn oco_detail(&self, oco: &shared::order::Oco) -> Result<shared::order::OcoReport, ExchangeError> {
        self.inner.oco_detail(oco).await
    }
    async fn cancel_leg(&self, oco: &shared::order::Oco, leg: shared::order::Leg) -> Result<(), ExchangeError> {
        self.inner.cancel_leg(oco, leg).await
    }
}

/// An exchange that places the order and then stalls the caller until released — the worker "dies" (is dropped by
/// a timeout) or "wakes up late" (is released after someone else took over) between place and finalize.
pub struct GatedExchange<'a, E> {
    pub inner: &'a E,
    pub placed: tokio::sync::Notify,
    pub release: tokio::sync::Notify,
}

impl<'a, E> GatedExchange<'a, E> {
    pub fn new(inner: &'a E) -> Self {
        Self {
            inner,
            placed: tokio::sync::Notify::new(),
            release: tokio::sync::Notify::new(),
        }
    }
}

#[async_trait]
impl<E: Exchange> Exchange for GatedExchange<'_, E> {
    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError> {
        self.inner.usd_price(currency).await
    }
    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let ack = self.inner.place_order(req).await;
        self.placed.notify_one();
        self.release.notified().await;
        ack
    }
    async fn find_order(&self, client_oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        self.inner.find_order(client_oid).await
    }
    async fn order_detail(
        &self,
        order: &shared::order::PlacedOrder,
    ) -> Result<Option<shared::order::Reported>, ExchangeError> {
        self.inner.order_detail(order).await
    }
    async fn open_orders(&self) -> Result<Vec<shared::order::OpenOrder>, ExchangeError> {
        self.inner.open_orders().await
    }
    async fn create_oco(&self, oco: &shared::order::Oco) -> Result<shared::order::OcoAck, ExchangeError> {
        self.inner.create_oco(oco).await
    }
    async fn oco_detail(&self, oco: &shared::order::Oco) -> Result<shared::order::OcoReport, ExchangeError> {
        self.inner.oco_detail(oco).await
    }
    async fn cancel_leg(&self, oco: &shared::order::Oco, leg: shared::order::Leg) -> Result<(), ExchangeError> {
        self.inner.cancel_leg(oco, leg).await
    }
}

/// An intent for `s` in the given state, as a crashed or stalled worker would have left it.
pub fn intent(
    s: &SignalRecord,
    status: shared::order::IntentStatus,
    lease_until: DateTime<Utc>,
    at: DateTime<Utc>,
) -> shared::order::OrderIntent {
    shared::fakes::intent(s, status, lease_until, at)
}

/// The shipped watchlist (`data/watchlist.json`), `adjust`ed, seeded into the test's watchlist table.
pub async fn seed_shipped_watchlist(env: &tests::TestEnv, adjust: impl Fn(&mut shared::watchlist::WatchlistEntry)) {
    let mut entries: Vec<shared::watchlist::WatchlistEntry> =
        serde_json::from_str(include_str!("../../../data/watchlist.json")).expect("the shipped watchlist");
    entries.iter_mut().for_each(adjust);
    seed_watchlist(env, &entries).await;
}

/// `entries` seeded into the test's watchlist table.
pub async fn seed_watchlist(env: &tests::TestEnv, entries: &[shared::watchlist::WatchlistEntry]) {
    tests::provision::seed_watchlist(
        &aws_sdk_dynamodb::Client::new(&env.aws),
        &env.p.tables.watchlist,
        entries,
    )
    .await
    .unwrap();
}

/// The evaluator over one store and the replayed candles, as the integration tests run it: hourly, 200 candles,
/// 4 symbols at once, a 60 s emission lease, paper mode.
pub fn evaluator<'a>(
    store: &'a shared::adapters::dynamodb::DynamoStore,
    queue: &'a dyn shared::ports::SignalQueue,
    market: &'a shared::adapters::replay::ReplayMarketData,
    clock: &'a shared::fakes::ManualClock,
    notifier: &'a dyn shared::ports::Notifier,
) -> evaluator::handler::Evaluator<'a> {
    evaluator::handler::Evaluator {
        concurrency: 4,
        ..evaluator::handler::Evaluator::over(store, queue, market, clock, notifier)
    }
}

/// The orchestrator over one store, as a fresh container runs it: its own control cache, empty at first (leaked: it
/// lives as long as the test process, a few bytes per orchestrator).
pub fn orchestrator<'a>(
    store: &'a shared::adapters::dynamodb::DynamoStore,
    exchange: &'a dyn Exchange,
    clock: &'a dyn shared::ports::Clock,
    settings: shared::flow::orchestration::OrchestratorSettings,
) -> shared::flow::orchestration::Orchestrator<'a> {
    shared::flow::orchestration::Orchestrator {
        stores: Stores::of(store),
        guard: Box::leak(Box::default()),
        exchange,
        clock,
        settings,
    }
}

/// The sweeper over one store, with a 120 s grace over a week's window.
pub fn sweeper<'a>(
    store: &'a shared::adapters::dynamodb::DynamoStore,
    queue: &'a dyn shared::ports::SignalQueue,
    notifier: &'a dyn shared::ports::Notifier,
    clock: &'a shared::fakes::ManualClock,
) -> sweeper::handler::Sweeper<'a> {
    sweeper::handler::Sweeper {
        window_hours: 168,
        namespace: "Test",
        ..sweeper::handler::Sweeper::over(store, queue, notifier, clock)
    }
}

/// The real Crypto.com adapter against the stand-in at `url` (its test credentials), with this HTTP timeout.
pub fn crypto_com(url: &str, timeout: std::time::Duration) -> shared::adapters::crypto_com::CryptoCom {
    use shared::adapters::crypto_com::{CryptoCom, CryptoComSettings};
    use shared::adapters::secrets::{Credentials, SecretString};
    CryptoCom::new(
        CryptoComSettings {
            base_url: url.to_string(),
            timeout,
            rate_limit_retries: 1,
            backoff: std::time::Duration::from_millis(10),
            order_budget: shared::adapters::crypto_com::ORDER_BUDGET,
        },
        Credentials {
            api_key: SecretString::new(tests::exchange::API_KEY.into()),
            api_secret: SecretString::new(tests::exchange::API_SECRET.into()),
        },
    )
    .unwrap()
}

/// Reads the fill of every placed order of the last two days once, as the orchestrator does right after a decision
/// (its ORDER EXECUTED messages go to `notifier`).
pub async fn follow_all(
    store: &shared::adapters::dynamodb::DynamoStore,
    exchange: &dyn Exchange,
    notifier: &dyn shared::ports::Notifier,
    clock: &dyn shared::ports::Clock,
) -> shared::flow::follow::FollowTotals {
    use shared::ports::IntentStore;
    let now = Utc::now();
    let intents = store
        .intents_created_between(now - chrono::Duration::days(2), now + chrono::Duration::hours(1))
        .await
        .unwrap();
    let follower = shared::flow::follow::Follower {
        stores: Stores::of(store),
        exchange,
        notifier,
        clock,
    };
    follower
        .follow_all(&intents, 4, chrono::Duration::seconds(120))
        .await
        .unwrap()
}

/// One protection step for every filled BUY whose protection is not final (docs/DESIGN.md §14), as the
/// orchestrator takes right after a final fill and the sweeper on each run.
pub async fn protect_all(
    store: &shared::adapters::dynamodb::DynamoStore,
    exchange: &dyn Exchange,
    notifier: &dyn shared::ports::Notifier,
    clock: &dyn shared::ports::Clock,
) -> shared::flow::protect::ProtectTotals {
    use shared::ports::IntentStore;
    let protector = shared::flow::protect::Protector {
        stores: Stores::of(store),
        exchange,
        notifier: Some(notifier),
        clock,
        quantity_decimals: 8,
    };
    let open = store.open_orders().await.unwrap();
    protector.protect_all(&open, 4).await.unwrap()
}
