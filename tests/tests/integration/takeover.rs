//! Crashes and late wake-ups between placing an order and finalizing it, against the emulator: the order is placed
//! once, the intent ends ORDER_PLACED, and a worker that lost its lease cannot overwrite the outcome.

use crate::support;
use rust_decimal::Decimal;

use chrono::Utc;
use shared::decision::DecisionType;
use shared::fakes::ManualClock;
use shared::flow::orchestration::{OrchestratorSettings, Outcome};
use shared::ids::Side;
use shared::order::IntentStatus;
use shared::ports::{IntentStore, SignalStore};
use tests::TestEnv;

const LEASE_MS: i64 = 60_000;

#[tokio::test]
async fn killed_between_place_and_finalize_then_redelivered_places_nothing_more() {
    let env = TestEnv::new("killed").await;
    let store = env.store();
    let s = support::signal("ETH_BTC", Side::Buy, 1_516_600_000_000, Utc::now());
    store.put_new(&s).await.unwrap();
    let msg = support::message(&s);
    let clock = ManualClock::new(Utc::now(), 0);
    let exchange = support::CountingExchange::new(support::paper(1));
    let settings = OrchestratorSettings {
        lease_ms: LEASE_MS,
        ..Default::default()
    };

    // First delivery: the order is placed, then the Lambda is killed before finalize — its work dropped the moment
    // the exchange has the order, however long the claim before it took.
    let gated = support::GatedExchange::new(&exchange);
    let first = support::orchestrator(&store, &gated, &clock, settings);
    tokio::select! {
        outcome = first.process(&msg) => panic!("the worker must be killed before it finalizes: {outcome:?}"),
        () = gated.placed.notified() => {}
    }
    assert_eq!(exchange.creates(), 1);
    let dead = store.get_many(&[s.idempotency_key()]).await.unwrap().remove(0);
    assert_eq!(dead.status, IntentStatus::Pending);
    let sized = dead
        .sizing
        .expect("the size is recorded before the send, so a dead worker's intent shows it");
    assert_eq!(sized.notional.currency, "BTC");

    // Redelivery inside the lease: someone owns it, retry later.
    let second = support::orchestrator(&store, &exchange, &clock, settings);
    assert!(matches!(second.process(&msg).await.unwrap(), Outcome::Retry(_)));

    // Redelivery after the lease: takeover, lookup by client_oid finds the order, no second create-order.
    clock.advance_ms(LEASE_MS + 1_000);
    let outcome = second.process(&msg).await.unwrap();
    assert!(
        matches!(outcome, Outcome::Decided(ref d, ..) if d.decision_type == DecisionType::Executed),
        "{outcome:?}"
    );
    assert_eq!(exchange.creates(), 1, "no second create-order");
    let intent = store.get_many(&[s.idempotency_key()]).await.unwrap().remove(0);
    assert_eq!((intent.status, intent.attempt), (IntentStatus::OrderPlaced, 2));
    assert_eq!(intent.sizing, Some(sized), "the taker-over keeps the recorded size");
}

#[tokio::test]
async fn a_late_worker_is_fenced_off_by_the_takeover() {
    let env = TestEnv::new("late").await;
    let store = env.store();
    let s = support::signal("XRP_USDT", Side::Sell, 1_637_000_000_000, Utc::now());
    store.put_new(&s).await.unwrap();
    store.set_held(&s.symbol, Decimal::from(10_000)).await.unwrap();
    let msg = support::message(&s);
    let clock = ManualClock::new(Utc::now(), 0);
    let exchange = support::CountingExchange::new(support::paper(1));
    let settings = OrchestratorSettings {
        lease_ms: LEASE_MS,
        ..Default::default()
    };
    let gated = support::GatedExchange::new(&exchange);
    let slow = support::orchestrator(&store, &gated, &clock, settings);
    let fast = support::orchestrator(&store, &exchange, &clock, settings);

    let late = slow.process(&msg);
    let takeover = async {
        gated.placed.notified().await; // the slow worker placed the order and stalls before finalize
        clock.advance_ms(LEASE_MS + 1_000); // its lease runs out
        let outcome = fast.process(&msg).await.unwrap();
        gated.release.notify_one(); // it wakes up late and tries to finalize
        outcome
    };
    let (late_outcome, takeover_outcome) = tokio::join!(late, takeover);
    assert!(matches!(takeover_outcome, Outcome::Decided(ref d, ..) if d.decision_type == DecisionType::Executed));
    match late_outcome.unwrap() {
        Outcome::Retry(why) => assert!(why.contains("fenced"), "{why}"),
        other => panic!("the late worker's finalize must be rejected: {other:?}"),
    }
    assert_eq!(exchange.creates(), 1);
    let intent = store.get_many(&[s.idempotency_key()]).await.unwrap().remove(0);
    assert_eq!((intent.status, intent.attempt), (IntentStatus::OrderPlaced, 2));
    let signal = store
        .created_between(Utc::now() - chrono::Duration::hours(1), Utc::now())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        signal.decision.unwrap().context.get("attempt").map(String::as_str),
        Some("2"),
        "the decision is the taker-over's"
    );
}
