//! Whole dependencies gone, then back, with the real adapters over HTTP and the tables in the emulator:
//!
//! * the exchange refusing connections for a whole cycle, then hanging after applying orders (the caller times
//!   out: UNKNOWN), then back — with an order book that shows new orders to lookups only after a delay, within the
//!   settle window and beyond it. Every order is on the exchange once; each intent ends ORDER_PLACED.
//! * Telegram down for an hour of the test clock while the replay runs: orders are still placed, alerts stay
//!   PENDING, the report shows FAILED_WITHOUT_TELEGRAM meanwhile; once Telegram is back the sweeper delivers them
//!   and the count is 0.

use crate::support;
use shared::ports::{Clock, IntentStore, SignalStore, Stores};

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use shared::adapters::crypto_com::CryptoCom;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::replay::ReplayMarketData;
use shared::adapters::secrets::SecretString;
use shared::adapters::sqs::SqsQueue;
use shared::adapters::telegram::{Telegram, TelegramSettings};
use shared::fakes::ManualClock;
use shared::flow::orchestration::{Orchestrator, OrchestratorSettings, Outcome};
use shared::ids::Side;
use shared::market::candles::Timeframe;
use shared::order::{ExecutionMode, IntentStatus};
use shared::report::invariants::{self, Report, ReportQuery};
use shared::signal::SignalMessage;
use tests::exchange::{ExchangeStandIn, Mode};
use tests::{esm, TestEnv};

async fn report(store: &DynamoStore, now: chrono::DateTime<Utc>) -> Report {
    invariants::collect(Stores::of(store), &ReportQuery::default(), now, Duration::seconds(120))
        .await
        .unwrap()
}

fn crypto_com(url: &str) -> CryptoCom {
    support::crypto_com(url, StdDuration::from_millis(300))
}

/// Delivers each message once; the outcomes, in order.
async fn deliver(orch: &Orchestrator<'_>, messages: &[SignalMessage]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for m in messages {
        out.push(orch.process(m).await.expect("the store is healthy"));
    }
    out
}

#[tokio::test]
async fn an_exchange_outage_then_a_lagging_order_book_place_each_order_once() {
    let env = TestEnv::new("exchange-outage").await;
    let store = env.store();
    // The SELLs sell coins held before the outage: what is tested is the order path, not the position.
    store
        .set_held(
            &shared::ids::Symbol::parse("XRP_USDT").unwrap(),
            rust_decimal::Decimal::from(1_000_000),
        )
        .await
        .unwrap();
    let ex = ExchangeStandIn::start().await.unwrap();
    let adapter = crypto_com(&ex.url);
    let clock = ManualClock::new(Utc::now(), 0);
    let settings = OrchestratorSettings {
        mode: ExecutionMode::Live,
        ..Default::default()
    };
    let orch = support::orchestrator(&store, &adapter, &clock, settings);
    let lease = settings.lease_ms + 1_000;
    let mut signals = Vec::new();
    let mut batch = |symbol: &str, side: Side, n: i64| {
        let made: Vec<_> = (0..n)
            .map(|i| {
                support::signal(
                    symbol,
                    side,
                    1_700_000_000_000 + (signals.len() as i64 + i) * 3_600_000,
                    clock.now(),
                )
            })
            .collect();
        signals.extend(made.iter().cloned());
        made
    };
    let refused = batch("XRP_USDT", Side::Buy, 3);
    let hung_short = batch("ETH_USDT", Side::Buy, 2);
    let hung_long = batch("XRP_USDT", Side::Sell, 2);
    for s in &signals {
        store.put_new(s).await.unwrap();
    }
    let msgs = |v: &[shared::signal::SignalRecord]| v.iter().map(|s| s.to_message()).collect::<Vec<_>>();

    // 1. Refusing connections for a whole cycle: nothing can have been sent; the lease runs out; the taker-over's
    //    lookup fails too. Nothing is decided, nothing is guessed.
    ex.set_mode(Mode::Refusing).await.unwrap();
    for round in 0..2 {
        for o in deliver(&orch, &msgs(&refused)).await {
            assert!(matches!(o, Outcome::Retry(_)), "round {round}: {o:?}");
        }
        clock.advance_ms(lease);
    }
    // 2. Back, but hanging after applying: the create-orders are accepted, their answers never come (UNKNOWN). The
    //    order book then lags: one hidden lookup (within the settle window) for some, three (beyond it) for others.
    ex.set_mode(Mode::Hanging).await.unwrap();
    ex.hide_new_orders(1);
    for o in deliver(&orch, &msgs(&hung_short)).await {
        assert!(matches!(o, Outcome::Retry(ref why) if why.contains("unknown")), "{o:?}");
    }
    ex.hide_new_orders(3);
    for o in deliver(&orch, &msgs(&hung_long)).await {
        assert!(matches!(o, Outcome::Retry(ref why) if why.contains("unknown")), "{o:?}");
    }
    assert_eq!(ex.orders().len(), 4, "the hanging exchange applied what it was sent");
    // Meanwhile the report shows every one of them undecided, with its intent.
    let during = report(&store, clock.now()).await;
    assert_eq!(during.total, signals.len());
    assert!(during
        .signals
        .iter()
        .all(|s| s.decision_type.is_none() && s.order_intent.is_some()));
    let unknown = during
        .signals
        .iter()
        .filter(|s| {
            s.order_intent
                .as_ref()
                .is_some_and(|i| i.status == IntentStatus::Unknown)
        })
        .count();
    assert_eq!(unknown, 4, "the orders the exchange may hold are visible as UNKNOWN");

    // 3. Up again. Deliveries keep coming as the queue would redeliver them, the clock moving a settle window at a
    //    time, until every signal is decided.
    ex.set_mode(Mode::Up).await.unwrap();
    ex.hide_new_orders(0);
    let all = msgs(&signals);
    let mut rounds = 0;
    loop {
        rounds += 1;
        let outcomes = deliver(&orch, &all).await;
        if outcomes.iter().all(|o| matches!(o, Outcome::Decided(..))) || rounds == 12 {
            break;
        }
        clock.advance_ms(settings.settle_ms + 1_000);
    }
    let intents = store
        .get_many(&signals.iter().map(|s| s.idempotency_key()).collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(
        intents.iter().all(|i| i.status == IntentStatus::OrderPlaced),
        "{:?}",
        intents.iter().map(|i| i.status).collect::<Vec<_>>()
    );
    let mut held = ex.orders();
    held.sort();
    let mut oids: Vec<_> = signals
        .iter()
        .map(|s| s.idempotency_key().client_oid().as_str().to_string())
        .collect();
    oids.sort();
    assert_eq!(held, oids, "each signal's order is on the exchange, once");
    let calls = ex.calls();
    println!(
        "exchange outage: {} signals, {rounds} rounds after recovery, exchange calls {calls:?}",
        signals.len()
    );
    assert_eq!(calls.get("private/create-order accepted"), Some(&signals.len()));
    assert!(
        calls.get("private/create-order duplicate").copied().unwrap_or(0) >= 1,
        "an order hidden beyond the settle window was resent and the exchange's client_oid check refused it"
    );
    let after = report(&store, clock.now()).await;
    assert!(after.pass, "{:?}", after.violations);
    assert_eq!(after.counts.placed, signals.len());
}

#[tokio::test]
async fn telegram_down_for_an_hour_delays_alerts_not_orders() {
    let env = TestEnv::new("telegram-outage").await;
    let store = env.store();
    let sqs = env.sqs();
    support::seed_shipped_watchlist(&env, |_| {}).await;
    // Every symbol's SELLs have coins to sell (held before the replay): what is tested is Telegram's outage.
    for e in shared::ports::WatchlistStore::list(&store).await.unwrap() {
        store
            .set_held(&e.symbol, rust_decimal::Decimal::from(1_000_000))
            .await
            .unwrap();
    }
    let sink = support::Sink::start().await;
    let port: u16 = sink.base.rsplit(':').next().unwrap().parse().unwrap();
    let telegram = Telegram::new(
        TelegramSettings {
            base_url: sink.base.clone(),
            timeout: StdDuration::from_millis(500),
            max_wait: StdDuration::from_secs(1),
        },
        SecretString::new("123:stand-in".into()),
        "42".into(),
    )
    .unwrap();
    drop(sink); // Telegram is down from here on.

    let queue = SqsQueue::new(sqs.clone(), env.p.queue_url.clone());
    let market = ReplayMarketData::embedded().unwrap();
    let clock = ManualClock::new(Utc::now(), 0);
    let ev = support::evaluator(&store, &queue, &market, &clock, &telegram);
    let paper = support::CountingExchange::new(support::paper(1));
    let orch = support::orchestrator(&store, &paper, &clock, OrchestratorSettings::default());
    let alerts = &telegram as &dyn shared::ports::Notifier;
    let sweeper = support::sweeper(&store, &queue, &telegram, &clock);

    // The replay runs through the outage: an hour of the test clock, the sweeper every quarter of it.
    let steps = market.close_times(Timeframe::H1);
    let per_minute = steps.len().div_ceil(60);
    let mut sweeps_during = 0;
    for (i, t) in steps.iter().enumerate() {
        clock.set_market_ms(*t);
        ev.run().await.unwrap();
        esm::drain(&sqs, &env.p.queue_url, &orch, alerts).await.unwrap();
        if (i + 1) % per_minute == 0 {
            clock.advance_ms(60_000);
            if (i + 1) % (per_minute * 15) == 0 {
                sweeper.run().await.unwrap();
                sweeps_during += 1;
            }
        }
    }
    let during = report(&store, clock.now()).await;
    let sent = during.counts.sent_signals;
    println!(
        "telegram outage: {} steps, {sweeps_during} sweeps during, {sent} signals, {} placed, {} failed, failed_without_telegram {}",
        steps.len(),
        during.counts.placed,
        during.counts.failed,
        during.counts.failed_without_telegram
    );
    assert!(
        sent >= 10 && during.counts.placed >= 5,
        "orders were placed during the outage: {:?}",
        during.counts
    );
    assert!(
        during.counts.failed >= 1,
        "the replay has a failed order: {:?}",
        during.counts
    );
    assert_eq!(
        during.counts.failed_without_telegram, during.counts.failed,
        "visible meanwhile"
    );
    assert!(!during.pass);
    assert_eq!(
        during.counts.missing_intent + during.counts.null_decisions,
        0,
        "trading went on"
    );

    // Telegram is back: the next sweep delivers what waited.
    let sink = support::Sink::start_on(port).await;
    sweeper.run().await.unwrap();
    let after = report(&store, clock.now()).await;
    assert_eq!(after.counts.failed_without_telegram, 0);
    assert!(after.pass, "{:?}", after.violations);
    let texts = sink.texts().await;
    let distinct: std::collections::HashSet<_> = texts.iter().collect();
    println!("telegram back: {} alerts delivered by one sweep", texts.len());
    assert_eq!(distinct.len(), texts.len(), "each waiting alert delivered once");
    assert!(
        texts.len() >= sent + during.counts.failed,
        "every signal alert and every ORDER FAILED waited and was delivered: {} texts",
        texts.len()
    );
    assert!(texts.iter().any(|t| t.contains("ORDER FAILED")));
}
