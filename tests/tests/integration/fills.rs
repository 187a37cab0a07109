//! After the order (docs/DESIGN.md §13), with the real Crypto.com adapter over HTTP against the stand-in and the
//! tables in the emulator: fills read over several lookups, a fill found only by the sweeper's reconciliation, two
//! reconcilers at once, a SELL with nothing held, the realized P&L of a BUY then a SELL against the exchange's own
//! fills, the loss breaker, and a ghost order.

use crate::support;
use shared::ports::{ControlStore, IntentStore, SignalStore, Stores};

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use shared::adapters::crypto_com::CryptoCom;
use shared::adapters::dynamodb::DynamoStore;
use shared::decision::ReasonCode;
use shared::fakes::{ManualClock, MemoryNotifier};
use shared::flow::orchestration::{OrchestratorSettings, Outcome};
use shared::ids::{Side, Symbol};
use shared::order::{ExecutionMode, OrderStatus};
use shared::report::invariants::{self, Report, ReportQuery};
use shared::signal::SignalRecord;
use tests::exchange::ExchangeStandIn;
use tests::TestEnv;

fn crypto_com(url: &str) -> CryptoCom {
    support::crypto_com(url, StdDuration::from_secs(2))
}

/// One test's world: its own tables, the stand-in, the real adapter over it, a fixed record clock, a notifier.
struct World {
    env: TestEnv,
    store: DynamoStore,
    stand_in: ExchangeStandIn,
    ex: CryptoCom,
    clock: ManualClock,
    notifier: MemoryNotifier,
}

impl World {
    async fn new(name: &str) -> World {
        let env = TestEnv::new(name).await;
        let stand_in = ExchangeStandIn::start().await.unwrap();
        World {
            store: env.store(),
            ex: crypto_com(&stand_in.url),
            env,
            stand_in,
            clock: ManualClock::new(Utc::now(), 0),
            notifier: MemoryNotifier::default(),
        }
    }
}

fn live() -> OrchestratorSettings {
    OrchestratorSettings {
        mode: ExecutionMode::Live,
        ..OrchestratorSettings::default()
    }
}

/// A signal of ETH_USDT emitted a second before the test clock's time: every record time of a test is fixed, so the
/// sweeper's window and the day of a fill never depend on how fast the test runs.
fn eth(clock: &ManualClock, side: Side, candle: i64) -> SignalRecord {
    support::signal(
        "ETH_USDT",
        side,
        candle,
        shared::ports::Clock::now(clock) - Duration::seconds(1),
    )
}

/// Writes the signal and runs it through the orchestrator once; the decision's reason code.
async fn decide(store: &DynamoStore, ex: &CryptoCom, clock: &ManualClock, s: &SignalRecord) -> ReasonCode {
    store.put_new(s).await.unwrap();
    match support::orchestrator(store, ex, clock, live())
        .process(&s.to_message())
        .await
        .unwrap()
    {
        Outcome::Decided(d, ..) => d.reason_code,
        other => panic!("{other:?}"),
    }
}

async fn report(store: &DynamoStore) -> Report {
    invariants::collect(
        Stores::of(store),
        &ReportQuery::default(),
        Utc::now(),
        Duration::seconds(120),
    )
    .await
    .unwrap()
}

fn executed(n: &MemoryNotifier) -> usize {
    n.sent().iter().filter(|t| t.contains("ORDER EXECUTED")).count()
}

#[tokio::test]
async fn an_order_filled_over_three_lookups_is_recorded_and_messaged_once_per_part() {
    let World {
        env: _env,
        store,
        stand_in,
        ex,
        clock,
        notifier,
    } = World::new("fills-parts").await;
    stand_in.fill_in_parts(3);
    let buy = eth(&clock, Side::Buy, 1);
    assert_eq!(decide(&store, &ex, &clock, &buy).await, ReasonCode::ExecOrderPlaced);

    let mut statuses = Vec::new();
    for _ in 0..3 {
        let t = support::follow_all(&store, &ex, &notifier, &clock).await;
        assert_eq!((t.looked_up, t.recorded, t.executed_messages), (1, 1, 1), "{t:?}");
        let intent = store.get_many(&[buy.idempotency_key()]).await.unwrap().remove(0);
        statuses.push(intent.fill.unwrap().status);
    }
    assert_eq!(
        statuses,
        [
            OrderStatus::PartiallyFilled,
            OrderStatus::PartiallyFilled,
            OrderStatus::Filled
        ]
    );
    let again = support::follow_all(&store, &ex, &notifier, &clock).await;
    assert_eq!(again.looked_up, 0, "a final fill is not read again");
    assert_eq!(
        executed(&notifier),
        3,
        "one ORDER EXECUTED per part: {:?}",
        notifier.sent()
    );

    // The record is the exchange's: 100 USDT at 2000 is 0.05 ETH, the 0.1 % fee paid in ETH.
    let truth = stand_in.fills().remove(0);
    let fill = store
        .get_many(&[buy.idempotency_key()])
        .await
        .unwrap()
        .remove(0)
        .fill
        .unwrap();
    assert_eq!(
        (fill.filled_quantity, fill.average_price),
        (truth.quantity, truth.price)
    );
    assert_eq!((fill.fee, fill.fee_currency.as_str()), (truth.fee, "ETH"));
    let held = store.held(&buy.symbol).await.unwrap();
    assert_eq!(held, Decimal::new(4995, 5), "held net of the base-currency fee");
    let r = report(&store).await;
    assert_eq!(r.positions[0].quantity, held);
    assert!(r.pass, "{:?}", r.violations);
}

#[tokio::test]
async fn a_fill_the_orchestrator_missed_is_found_by_the_sweeper() {
    let World {
        env,
        store,
        stand_in,
        ex,
        clock,
        notifier,
    } = World::new("fills-sweeper").await;
    stand_in.hide_new_orders(1);
    let buy = eth(&clock, Side::Buy, 2);
    assert_eq!(decide(&store, &ex, &clock, &buy).await, ReasonCode::ExecOrderPlaced);
    // The orchestrator's read right after placing finds nothing yet (the order book lags).
    let first = support::follow_all(&store, &ex, &notifier, &clock).await;
    assert_eq!((first.not_found, first.recorded), (1, 0));

    let queue = shared::adapters::sqs::SqsQueue::new(env.sqs(), env.p.queue_url.clone());
    let sweeper = sweeper::handler::Sweeper {
        exchange: Some(&ex),
        ..support::sweeper(&store, &queue, &notifier, &clock)
    };
    let (emf, summary) = sweeper.run().await.unwrap();
    assert_eq!((summary.fills.recorded, summary.fills.executed_messages), (1, 1));
    assert_eq!(emf["FillsRecorded"], 1);
    assert_eq!(executed(&notifier), 1);
    let (_, quiet) = sweeper.run().await.unwrap();
    assert_eq!((quiet.fills.looked_up, quiet.fills.recorded), (0, 0));
}

#[tokio::test]
async fn two_reconcilers_at_once_record_each_fill_once() {
    let env = TestEnv::new("fills-race").await;
    let (a, b) = (env.store(), env.store());
    let stand_in = ExchangeStandIn::start().await.unwrap();
    let ex = crypto_com(&stand_in.url);
    let clock = ManualClock::new(Utc::now(), 0);
    for round in 0..5 {
        let buy = eth(&clock, Side::Buy, 100 + round);
        assert_eq!(decide(&a, &ex, &clock, &buy).await, ReasonCode::ExecOrderPlaced);
        let (na, nb) = (MemoryNotifier::default(), MemoryNotifier::default());
        let (ta, tb) = tokio::join!(
            support::follow_all(&a, &ex, &na, &clock),
            support::follow_all(&b, &ex, &nb, &clock)
        );
        assert_eq!(ta.recorded + tb.recorded, 1, "round {round}: {ta:?} {tb:?}");
        assert_eq!(executed(&na) + executed(&nb), 1, "round {round}: one ORDER EXECUTED");
    }
    let held = a.held(&Symbol::parse("ETH_USDT").unwrap()).await.unwrap();
    assert_eq!(held, Decimal::new(4995, 5) * Decimal::from(5), "each fill added once");
}

#[tokio::test]
async fn a_sell_with_nothing_held_is_skipped_without_an_exchange_call() {
    let World {
        env: _env,
        store,
        stand_in,
        ex,
        clock,
        notifier: _,
    } = World::new("fills-nosell").await;
    let sell = eth(&clock, Side::Sell, 3);
    assert_eq!(
        decide(&store, &ex, &clock, &sell).await,
        ReasonCode::SellRequiresPosition
    );
    assert!(
        stand_in.calls().keys().all(|k| !k.starts_with("private/create-order")),
        "{:?}",
        stand_in.calls()
    );
    assert_eq!(
        store.control().await.unwrap().halt,
        None,
        "never counted by the circuit breaker"
    );
    let r = report(&store).await;
    assert!(r.pass, "{:?}", r.violations);
}

#[tokio::test]
async fn realized_pnl_of_a_buy_then_a_sell_equals_the_exchange_fills() {
    let World {
        env: _env,
        store,
        stand_in,
        ex,
        clock,
        notifier,
    } = World::new("fills-pnl").await;
    stand_in.charge_buy_fees_in_quote(true);
    let buy = eth(&clock, Side::Buy, 10);
    assert_eq!(decide(&store, &ex, &clock, &buy).await, ReasonCode::ExecOrderPlaced);
    support::follow_all(&store, &ex, &notifier, &clock).await;
    stand_in.set_price("ETH_USDT", Decimal::from(2100));
    // The SELL's $100 at the signal's price would be far more than held: it sells what the ledger holds.
    let sell = eth(&clock, Side::Sell, 11);
    assert_eq!(decide(&store, &ex, &clock, &sell).await, ReasonCode::ExecOrderPlaced);
    support::follow_all(&store, &ex, &notifier, &clock).await;

    let fills = stand_in.fills();
    let of = |side: &str| fills.iter().find(|f| f.side == side).unwrap().clone();
    let (b, s) = (of("BUY"), of("SELL"));
    assert_eq!(s.quantity, b.quantity, "the whole position sold");
    let want = s.quantity * s.price - s.fee - (b.quantity * b.price + b.fee);
    let p = &report(&store).await.positions[0];
    assert_eq!(p.realized_pnl_quote, want.normalize(), "{p:?}");
    assert_eq!(want, Decimal::new(4795, 3)); // 105 − 0.105 − (100 + 0.1)
    assert_eq!(p.realized_pnl_usd, p.realized_pnl_quote, "USDT at 1 USD");
    assert_eq!(p.fees_usd, (s.fee + b.fee).normalize());
    assert_eq!(p.quantity, Decimal::ZERO);
    assert_eq!(store.held(&sell.symbol).await.unwrap(), Decimal::ZERO);
    assert_eq!(executed(&notifier), 2);
}

#[tokio::test]
async fn a_realized_loss_at_the_limit_halts_trading_once() {
    // The world's clock is one fixed record time: every fill is recorded on the same UTC day, always.
    let World {
        env,
        store,
        stand_in,
        ex,
        clock,
        notifier,
    } = World::new("fills-loss").await;
    let limits = shared::risk::RiskLimits {
        max_daily_loss_usd: Some(Decimal::from(5)),
        ..shared::risk::RiskLimits::default()
    };
    shared::flow::trading::set_limits(&store, &limits, Some(3))
        .await
        .unwrap();
    stand_in.charge_buy_fees_in_quote(true);
    let queue = shared::adapters::sqs::SqsQueue::new(env.sqs(), env.p.queue_url.clone());
    let sweeper = sweeper::handler::Sweeper {
        exchange: Some(&ex),
        ..support::sweeper(&store, &queue, &notifier, &clock)
    };
    let buy = eth(&clock, Side::Buy, 20);
    assert_eq!(decide(&store, &ex, &clock, &buy).await, ReasonCode::ExecOrderPlaced);
    support::follow_all(&store, &ex, &notifier, &clock).await;
    // 0.05 ETH bought at 2000 sold at 1904: 95.2 − 0.0952 − 100.1 = −4.9952 USD, under the 5 USD limit.
    stand_in.set_price("ETH_USDT", Decimal::from(1904));
    let sell = eth(&clock, Side::Sell, 21);
    assert_eq!(decide(&store, &ex, &clock, &sell).await, ReasonCode::ExecOrderPlaced);
    let (_, first) = sweeper.run().await.unwrap();
    assert!(!first.loss_halt, "a loss under the limit does not halt");
    assert_eq!(store.control().await.unwrap().halt, None);

    // Another round trip at a loss: the day's loss passes 5 USD.
    stand_in.set_price("ETH_USDT", Decimal::from(2000));
    assert_eq!(
        decide(&store, &ex, &clock, &eth(&clock, Side::Buy, 22)).await,
        ReasonCode::ExecOrderPlaced
    );
    support::follow_all(&store, &ex, &notifier, &clock).await;
    stand_in.set_price("ETH_USDT", Decimal::from(1990));
    assert_eq!(
        decide(&store, &ex, &clock, &eth(&clock, Side::Sell, 23)).await,
        ReasonCode::ExecOrderPlaced
    );
    let (_, tripped) = sweeper.run().await.unwrap();
    assert!(tripped.loss_halt, "{:?}", stand_in.fills());
    let halt = store.control().await.unwrap().halt.expect("halted");
    assert_eq!(halt.by, "loss-breaker");
    let (_, again) = sweeper.run().await.unwrap();
    assert!(!again.loss_halt, "halted once");
    let halted = notifier.sent().iter().filter(|t| t.contains("TRADING HALTED")).count();
    assert_eq!(halted, 1, "one TRADING HALTED message");
    // While halted, the next signal is held back at its claim.
    assert_eq!(
        decide(&store, &ex, &clock, &eth(&clock, Side::Buy, 24)).await,
        ReasonCode::TradingHalted
    );
}

#[tokio::test]
async fn an_open_order_with_our_id_and_no_intent_is_a_ghost() {
    let World {
        env,
        store,
        stand_in,
        ex,
        clock,
        notifier,
    } = World::new("fills-ghost").await;
    stand_in.fill_in_parts(3);
    // One order of ours, still open after a partial fill (not a ghost: its intent exists).
    let buy = eth(&clock, Side::Buy, 30);
    assert_eq!(decide(&store, &ex, &clock, &buy).await, ReasonCode::ExecOrderPlaced);
    support::follow_all(&store, &ex, &notifier, &clock).await;
    // One with this system's form and no intent (a ghost), one placed by hand in the exchange's app (not ours).
    let lost = shared::ids::IdempotencyKey::for_signal(&shared::ids::SignalId::new(
        &Symbol::parse("ETH_USDT").unwrap(),
        Side::Buy,
        999,
    ))
    .client_oid();
    stand_in.place_outside(lost.as_str(), "ETH_USDT");
    stand_in.place_outside("web-1765000000", "XRP_USDT");
    // And a trigger order of this system's form with no intent: only the advanced listing shows it.
    let stop = shared::ids::IdempotencyKey::for_signal(&shared::ids::SignalId::new(
        &Symbol::parse("ETH_USDT").unwrap(),
        Side::Sell,
        998,
    ))
    .client_oid();
    stand_in.place_outside_advanced(stop.as_str(), "ETH_USDT");

    let queue = shared::adapters::sqs::SqsQueue::new(env.sqs(), env.p.queue_url.clone());
    let sweeper = sweeper::handler::Sweeper {
        exchange: Some(&ex),
        ..support::sweeper(&store, &queue, &notifier, &clock)
    };
    let (_, first) = sweeper.run().await.unwrap();
    assert_eq!(first.ghost_orders, Some(2), "this run's look found two ghosts");
    let (emf, _) = sweeper.run().await.unwrap();
    assert_eq!(emf["GhostOrders"], 2, "published from the recorded look");
    let r = report(&store).await;
    let (ghosts, at) = store.ghost_orders().await.unwrap();
    let mut r = r;
    r.add_ghosts(&ghosts, at);
    assert_eq!(r.counts.ghost_orders, 2);
    let mut ghosts: Vec<&str> = r
        .violations
        .iter()
        .filter(|v| v.violation == invariants::ViolationType::GhostOrder)
        .filter_map(|v| v.details["client_oid"].as_str())
        .collect();
    ghosts.sort_unstable();
    let mut want = [lost.as_str(), stop.as_str()];
    want.sort_unstable();
    assert_eq!(ghosts, want);
    assert!(!r.pass);
}

#[tokio::test]
async fn positions_are_marked_at_the_exchanges_last_price_when_asked() {
    let World {
        env: _env,
        store,
        stand_in,
        ex,
        clock,
        notifier,
    } = World::new("fills-marks").await;
    stand_in.charge_buy_fees_in_quote(true);
    let buy = eth(&clock, Side::Buy, 30);
    assert_eq!(decide(&store, &ex, &clock, &buy).await, ReasonCode::ExecOrderPlaced);
    support::follow_all(&store, &ex, &notifier, &clock).await;
    stand_in.set_price("ETH_USDT", Decimal::from(2100));
    let prices = shared::adapters::crypto_com::UsdTickers::new(&stand_in.url, StdDuration::from_secs(2)).unwrap();
    let r = report(&store).await;
    let now = shared::ports::Clock::now(&clock);
    let cmd = shared::commands::Command::Positions;
    let text = shared::commands::run(&cmd, &store, Some(&r), Some(&prices), "@ops", now)
        .await
        .unwrap();
    // 0.05 ETH at 2000 plus a 0.1 USDT fee: 2002 per ETH; at 2100 that is 0.05 × 98 = 4.9 USDT, 1 USD each.
    assert!(text.contains("ETH_USDT: 0.05 ETH at 2002 USDT"), "{text}");
    assert!(
        text.contains("unrealized at 2100 USDT now: 4.9 USDT ≈ 4.90 USD"),
        "{text}"
    );
    assert_eq!(
        stand_in.calls().get("public/get-tickers answered"),
        Some(&1),
        "one ticker read"
    );
    // Nothing is recorded from a mark: the ledger still holds what the fills say.
    assert_eq!(report(&store).await.positions, r.positions);
}

#[tokio::test]
async fn an_order_still_open_after_the_sweepers_window_is_followed_until_final() {
    let World {
        env,
        store,
        stand_in,
        ex,
        clock,
        notifier,
    } = World::new("fills-old").await;
    stand_in.fill_in_parts(2);
    let buy = eth(&clock, Side::Buy, 40);
    assert_eq!(decide(&store, &ex, &clock, &buy).await, ReasonCode::ExecOrderPlaced);
    let open = store.open_orders().await.unwrap();
    assert_eq!(
        open.len(),
        1,
        "a placed order without a final fill is in the open_fills index"
    );
    // Two days on: the sweeper's 24 h window no longer holds the order, the index still does.
    clock.advance_ms(2 * 86_400_000);
    let queue = shared::adapters::sqs::SqsQueue::new(env.sqs(), env.p.queue_url.clone());
    let sweeper = sweeper::handler::Sweeper {
        exchange: Some(&ex),
        ..support::sweeper(&store, &queue, &notifier, &clock)
    };
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let (_, s) = sweeper.run().await.unwrap();
        assert_eq!((s.fills.looked_up, s.fills.recorded), (1, 1), "{:?}", s.fills);
        let intent = store.get_many(&[buy.idempotency_key()]).await.unwrap().remove(0);
        statuses.push(intent.fill.unwrap().status);
    }
    assert_eq!(statuses, [OrderStatus::PartiallyFilled, OrderStatus::Filled]);
    // The filled BUY stays in the index while its protection is not final: the run that saw the fill placed it.
    let open = store.open_orders().await.unwrap();
    let protection = open[0]
        .protection
        .clone()
        .expect("protected by the run that saw the fill");
    assert_eq!(
        (open.len(), protection.status),
        (1, shared::order::ProtectionStatus::Active)
    );
    let (_, after) = sweeper.run().await.unwrap();
    assert_eq!(after.fills.looked_up, 0, "no fill left to read");
    assert_eq!(executed(&notifier), 2, "one ORDER EXECUTED per part");
    // Its take-profit fills: the next run closes the protection, and the entry leaves the index.
    let tp = shared::order::Leg::TakeProfit.client_oid(&buy.idempotency_key());
    assert!(stand_in.trigger(tp.as_str(), false));
    let (_, closed) = sweeper.run().await.unwrap();
    assert_eq!(closed.protection.moved, 1, "{:?}", closed.protection);
    assert!(
        store.open_orders().await.unwrap().is_empty(),
        "a final protection takes the entry out of the index"
    );
}
