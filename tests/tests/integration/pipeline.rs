//! The whole pipeline against the emulator: replayed real candles → evaluator → SQS → orchestrator (through the
//! event-source-mapping harness) → diagnostics, then redelivery and concurrent delivery of the same signals.

use crate::support;
use shared::ports::{IntentStore, SignalQueue, SignalStore, Stores};

use std::sync::Arc;

use chrono::{Duration, Utc};
use futures::future::join_all;
use shared::adapters::replay::ReplayMarketData;
use shared::decision::{DecisionType, ReasonCode};
use shared::fakes::ManualClock;
use shared::flow::orchestration::{OrchestratorSettings, Outcome};
use shared::ids::{Side, Symbol};
use shared::market::candles::Timeframe;
use shared::order::{ExecutionMode, IntentStatus, OrderStatus};
use shared::report::invariants::{self, ReportQuery};
use shared::watchlist::WatchlistEntry;
use tests::{esm, provision, TestEnv};

fn settings(mode: ExecutionMode) -> OrchestratorSettings {
    OrchestratorSettings {
        mode,
        ..Default::default()
    }
}

#[tokio::test]
async fn replayed_candles_end_with_one_decision_per_signal_and_a_passing_report() {
    let env = TestEnv::new("pipeline").await;
    let store = env.store();
    let sqs = env.sqs();
    let entry = WatchlistEntry::new(Symbol::parse("ETH_BTC").unwrap());
    provision::seed_watchlist(
        &aws_sdk_dynamodb::Client::new(&env.aws),
        &env.p.tables.watchlist,
        &[entry],
    )
    .await
    .unwrap();
    let queue = shared::adapters::sqs::SqsQueue::new(sqs.clone(), env.p.queue_url.clone());
    let market = ReplayMarketData::embedded().unwrap();
    let signal_alerts = shared::fakes::MemoryNotifier::default();
    let clock = ManualClock::new(Utc::now(), 0);
    let ev = evaluator::handler::Evaluator {
        concurrency: 8,
        ..evaluator::handler::Evaluator::over(&store, &queue, &market, &clock, &signal_alerts)
    };
    let exchange = support::CountingExchange::new(support::paper(1));
    let orch = support::orchestrator(&store, &exchange, &clock, settings(ExecutionMode::Paper));
    let notifier = shared::fakes::MemoryNotifier::default();
    let alerts = &notifier as &dyn shared::ports::Notifier;

    let mut sent = 0;
    // The whole ETH/BTC series (the other shipped series are not on this watchlist).
    for t in market.close_times(Timeframe::H1).into_iter().take(480) {
        clock.set_market_ms(t);
        sent += ev.run().await.unwrap().signals;
    }
    let drained = esm::drain(&sqs, &env.p.queue_url, &orch, alerts).await.unwrap();
    assert!(sent > 0, "the replay produced signals");
    assert_eq!((drained.received, drained.deleted, drained.failed), (sent, sent, 0));
    assert_eq!(
        signal_alerts.sent().len(),
        sent,
        "one BUY/SELL SIGNAL alert per sent signal"
    );

    let report = invariants::collect(
        Stores::of(&store),
        &ReportQuery::default(),
        clock_now(&clock),
        Duration::seconds(120),
    )
    .await
    .unwrap();
    assert!(report.pass, "violations: {:?}", report.violations);
    // Every signal is decided: placed, or a SELL with nothing held to sell (a SELL before any BUY filled).
    let placed = report.counts.placed;
    assert_eq!(exchange.creates(), placed, "one create-order per placed signal");
    assert!(placed > 0 && report.total == sent);
    for s in &report.signals {
        match (s.decision_type, s.reason_code) {
            (Some(DecisionType::Executed), _) => {
                let fill = s.order_intent.as_ref().and_then(|i| i.fill.as_ref());
                assert_eq!(
                    fill.map(|f| f.status),
                    Some(OrderStatus::Filled),
                    "paper fills are read at once"
                );
            }
            (Some(DecisionType::Skipped), Some(ReasonCode::SellRequiresPosition)) => assert_eq!(s.side, Side::Sell),
            other => panic!("{}: {other:?}", s.signal_id),
        }
    }
    // The ledger holds what the BUYs filled minus what the SELLs sold, and one ORDER EXECUTED per fill.
    assert_eq!(report.positions.len(), 1, "{:?}", report.positions);
    let executed = notifier.sent().iter().filter(|t| t.contains("ORDER EXECUTED")).count();
    assert_eq!(executed, placed);

    // Redelivery of every signal: acknowledged, nothing new placed, nothing rewritten.
    let signals = store
        .created_between(Utc::now() - Duration::hours(1), Utc::now() + Duration::hours(1))
        .await
        .unwrap()
        .into_iter()
        .filter(|s| !s.blocked) // held back by the throttle: never enqueued
        .collect::<Vec<_>>();
    let before = store
        .get_many(&signals.iter().map(|s| s.idempotency_key()).collect::<Vec<_>>())
        .await
        .unwrap();
    let messages: Vec<_> = signals.iter().map(support::message).collect();
    assert!(queue.send(&messages).await.unwrap().is_empty());
    let again = esm::drain(&sqs, &env.p.queue_url, &orch, alerts).await.unwrap();
    assert_eq!((again.received, again.deleted), (sent, sent));
    assert_eq!(exchange.creates(), placed, "redelivery places nothing");
    assert_eq!(
        notifier.sent().iter().filter(|t| t.contains("ORDER EXECUTED")).count(),
        executed,
        "redelivery sends no second ORDER EXECUTED"
    );
    let after = store
        .get_many(&signals.iter().map(|s| s.idempotency_key()).collect::<Vec<_>>())
        .await
        .unwrap();
    let key = |v: &Vec<shared::order::OrderIntent>| {
        let mut v: Vec<_> = v
            .iter()
            .map(|i| {
                (
                    i.idempotency_key.to_string(),
                    i.status,
                    i.order_id.clone(),
                    i.updated_at,
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(key(&before), key(&after));
}

fn clock_now(c: &ManualClock) -> chrono::DateTime<Utc> {
    shared::ports::Clock::now(c)
}

#[tokio::test]
async fn fifty_concurrent_deliveries_of_one_signal_place_one_order() {
    let env = TestEnv::new("concurrent").await;
    let store = env.store();
    let s = support::signal("ETH_BTC", Side::Buy, 1_516_600_000_000, Utc::now());
    store.put_new(&s).await.unwrap();
    let exchange = Arc::new(support::CountingExchange::new(support::paper(1)));
    let clock = ManualClock::new(Utc::now(), 0);
    let msg = support::message(&s);
    let orch = support::orchestrator(&store, exchange.as_ref(), &clock, settings(ExecutionMode::Paper));
    let outcomes = join_all((0..50).map(|_| orch.process(&msg))).await;
    assert_eq!(exchange.creates(), 1, "exactly one create-order reaches the exchange");
    let decided = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Outcome::Decided(..))))
        .count();
    let retried = outcomes.iter().filter(|o| matches!(o, Ok(Outcome::Retry(_)))).count();
    assert_eq!(decided + retried, 50, "no delivery errors: {outcomes:?}");
    assert!(decided >= 1);
    // The deliveries told to retry come back after the visibility timeout and find the decided intent.
    let late = orch.process(&msg).await.unwrap();
    assert!(matches!(late, Outcome::Decided(ref d, ..) if d.decision_type == DecisionType::Executed));
    assert_eq!(
        store.get_many(&[s.idempotency_key()]).await.unwrap()[0].status,
        IntentStatus::OrderPlaced
    );
    assert_eq!(exchange.creates(), 1);
}

#[tokio::test]
async fn with_trading_off_the_claim_records_blocked_and_the_report_still_passes() {
    let env = TestEnv::new("blocked").await;
    let store = env.store();
    let s = support::signal(
        "XRP_USDT",
        Side::Sell,
        1_637_000_000_000,
        Utc::now() - Duration::minutes(10),
    );
    store.put_new(&s).await.unwrap();
    let exchange = support::CountingExchange::new(support::paper(1));
    let clock = ManualClock::new(Utc::now(), 0);
    let orch = support::orchestrator(&store, &exchange, &clock, settings(ExecutionMode::Blocked));
    assert!(matches!(
        orch.process(&support::message(&s)).await.unwrap(),
        Outcome::Decided(..)
    ));
    assert_eq!(exchange.creates(), 0, "no exchange call at all");
    let report = invariants::collect(
        Stores::of(&store),
        &ReportQuery::default(),
        Utc::now(),
        Duration::seconds(120),
    )
    .await
    .unwrap();
    assert!(report.pass, "BLOCKED_LIVE_TRADING is terminal: {:?}", report.violations);
    assert_eq!(
        report.signals[0].order_intent.as_ref().unwrap().status,
        IntentStatus::BlockedLiveTrading
    );
}

/// The backtest's book (`ops replay --report`) and the paper ledger of the live path agree on the same replay: the
/// shipped XRP/USDT series through evaluator → SQS → orchestrator (paper, its stop-loss and take-profit triggered on
/// the same candles) with the protector reading the legs at every close, against `PaperBook` over the same
/// candles, preset and fee — the same entries protected, the same legs hit, the same realized P&L and holding.
#[tokio::test]
async fn the_backtest_book_agrees_with_the_paper_ledger_on_the_same_replay() {
    let env = TestEnv::new("agree").await;
    let store = env.store();
    let sqs = env.sqs();
    let symbol = Symbol::parse("XRP_USDT").unwrap();
    let preset = shared::market::strategy::preset("intraday-conservative").unwrap();
    let entry = WatchlistEntry {
        preset: shared::watchlist::Setting::Valid(preset),
        ..WatchlistEntry::new(symbol.clone())
    };
    let dynamo = aws_sdk_dynamodb::Client::new(&env.aws);
    provision::seed_watchlist(&dynamo, &env.p.tables.watchlist, &[entry])
        .await
        .unwrap();
    // The book has no risk guard: no daily cap here either.
    let unlimited = shared::risk::Control {
        limits: shared::risk::RiskLimits::default(),
        ..shared::risk::Control::default()
    };
    assert!(shared::ports::ControlStore::replace_control(&store, 0, &unlimited)
        .await
        .unwrap());
    let queue = shared::adapters::sqs::SqsQueue::new(sqs.clone(), env.p.queue_url.clone());
    let market = Arc::new(ReplayMarketData::embedded().unwrap());
    let clock = ManualClock::new(Utc::now() - Duration::days(2), 0);
    let notifier = shared::fakes::MemoryNotifier::default();
    let ev = evaluator::handler::Evaluator::over(&store, &queue, market.as_ref(), &clock, &notifier);
    let exchange = support::paper(1).with_market(Some(shared::adapters::paper::PaperMarket {
        candles: market.clone(),
        timeframe: Timeframe::H1,
        clock: Arc::new(clock.clone()),
    }));
    let orch = support::orchestrator(&store, &exchange, &clock, settings(ExecutionMode::Paper));
    let alerts = &notifier as &dyn shared::ports::Notifier;
    let raw = shared::market::candles::parse_rows(include_str!("../../../data/candles/XRP_USDT-5m.json")).unwrap();
    let series = shared::market::candles::resample(&raw, Timeframe::H1);
    let (first, last) = (
        series[0].open_ms,
        series[series.len() - 1].open_ms + Timeframe::H1.millis(),
    );
    for t in market
        .close_times(Timeframe::H1)
        .into_iter()
        .filter(|t| (first..=last).contains(t))
    {
        clock.set_market_ms(t);
        clock.advance_ms(1_000); // record time moves with the replay: the ledger orders by it
        if ev.run().await.unwrap().signals > 0 {
            esm::drain(&sqs, &env.p.queue_url, &orch, alerts).await.unwrap();
        }
        support::protect_all(&store, &exchange, &notifier, &clock).await;
    }
    let report = invariants::collect(
        Stores::of(&store),
        &ReportQuery::default(),
        clock_now(&clock),
        Duration::seconds(120),
    )
    .await
    .unwrap();
    let position = report
        .positions
        .iter()
        .find(|p| p.symbol == symbol)
        .expect("a position");

    let backtest = shared::backtest::run(
        &symbol,
        &raw,
        &shared::backtest::BacktestSettings {
            preset,
            timeframe: Timeframe::H1,
            candle_count: 200,
            cooldown_ms: shared::market::strategy::cooldown_ms(shared::market::strategy::DEFAULT_COOLDOWN_MINUTES),
            min_price_change_pct: preset.min_price_change_pct,
        },
    );
    let book_settings = shared::backtest::paper_book::BookSettings {
        amount_usd: rust_decimal::Decimal::from(100),
        fee_rate: shared::adapters::paper::DEFAULT_FEE_RATE,
        quote_usd: shared::backtest::paper_book::QuoteUsd::Pegged,
        protection: Some(WatchlistEntry::new(symbol.clone()).protection_settings()).map(|p| {
            shared::order::protection::ProtectionSettings {
                sl_pct: preset.protection_pct,
                tp_pct: preset.protection_pct,
                ..p
            }
        }),
    };
    let book = shared::backtest::paper_book::PaperBook::of(&backtest, &series, &book_settings).unwrap();
    let said = |title: &str| notifier.sent().iter().filter(|m| m.contains(title)).count();
    assert!(
        book.protected > 0 && book.take_profits + book.stop_losses > 0,
        "the replay exercises protection"
    );
    assert_eq!(
        (said("SL/TP PLACED"), said("TAKE PROFIT HIT"), said("STOP LOSS HIT")),
        (book.protected, book.take_profits, book.stop_losses),
        "the same entries protected and the same legs hit"
    );
    assert_eq!(position.quantity, book.held, "the same holding");
    assert_eq!(position.realized_pnl_usd, book.realized_usd, "the same realized P&L");
    assert!(report.pass, "{:?}", report.violations);
}
