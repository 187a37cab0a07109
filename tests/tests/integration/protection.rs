//! Every position protected on the exchange (docs/DESIGN.md §14), with the real Crypto.com adapter over HTTP
//! against the stand-in (which keeps OCO legs, lets the test trigger them and applies cancels when told) and the
//! tables in the emulator: one OCO per filled BUY at its prices, a lost create-oco answer found by lookup, a stop
//! refused three times and the position flattened, a take-profit that closes the position with its P&L, a SELL
//! signal that cancels the protection before it sells, and a cancel that loses the race to a fill.

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
use shared::ids::{IdempotencyKey, Side, Symbol};
use shared::order::{ExecutionMode, Leg, ProtectionStatus};
use shared::report::invariants::{self, ReportQuery};
use shared::signal::SignalRecord;
use tests::exchange::ExchangeStandIn;
use tests::TestEnv;

struct World {
    _env: TestEnv,
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
            ex: support::crypto_com(&stand_in.url, StdDuration::from_secs(2)),
            _env: env,
            stand_in,
            clock: ManualClock::new(Utc::now(), 0),
            notifier: MemoryNotifier::default(),
        }
    }

    fn signal(&self, side: Side, candle: i64) -> SignalRecord {
        support::signal(
            "ETH_USDT",
            side,
            candle,
            shared::ports::Clock::now(&self.clock) - Duration::seconds(1),
        )
    }

    /// The signal written and delivered once to the orchestrator (live mode).
    async fn deliver(&self, s: &SignalRecord) -> Outcome {
        let settings = OrchestratorSettings {
            mode: ExecutionMode::Live,
            ..OrchestratorSettings::default()
        };
        if self
            .store
            .get_signals(std::slice::from_ref(&s.signal_id))
            .await
            .unwrap()
            .is_empty()
        {
            self.store.put_new(s).await.unwrap();
        }
        support::orchestrator(&self.store, &self.ex, &self.clock, settings)
            .process(&s.to_message())
            .await
            .unwrap()
    }

    /// A BUY placed, its fill read (final), and one protection step: what the orchestrator does for a BUY.
    async fn bought(&self, candle: i64) -> IdempotencyKey {
        self.bought_with(candle).await.0
    }

    /// [`World::bought`], with what the protection step did.
    async fn bought_with(&self, candle: i64) -> (IdempotencyKey, shared::flow::protect::ProtectTotals) {
        let buy = self.signal(Side::Buy, candle);
        assert!(
            matches!(self.deliver(&buy).await, Outcome::Decided(d, ..) if d.reason_code == ReasonCode::ExecOrderPlaced)
        );
        assert_eq!(self.follow().await, 1);
        let totals = self.protect().await;
        (buy.idempotency_key(), totals)
    }

    async fn follow(&self) -> usize {
        support::follow_all(&self.store, &self.ex, &self.notifier, &self.clock)
            .await
            .recorded
    }

    async fn protect(&self) -> shared::flow::protect::ProtectTotals {
        support::protect_all(&self.store, &self.ex, &self.notifier, &self.clock).await
    }

    async fn protection(&self, key: &IdempotencyKey) -> shared::order::Protection {
        let intent = self.store.get_many(std::slice::from_ref(key)).await.unwrap().remove(0);
        intent.protection.expect("a protection record")
    }

    fn said(&self, title: &str) -> usize {
        self.notifier.sent().iter().filter(|t| t.contains(title)).count()
    }

    fn calls(&self, call: &str) -> usize {
        self.stand_in.calls().get(call).copied().unwrap_or(0)
    }

    async fn held(&self) -> Decimal {
        self.store.held(&Symbol::parse("ETH_USDT").unwrap()).await.unwrap()
    }
}

#[tokio::test]
async fn a_filled_buy_gets_one_oco_from_its_fill_and_a_lost_answer_is_found_not_resent() {
    let w = World::new("protect-oco").await;
    w.stand_in.lose_oco_answers(1);
    let key = w.bought(1).await;
    // The answer was lost after the exchange applied it: PLACING, its lease given up at once so that the next step
    // looks the legs up (before any resend) and finds them.
    assert_eq!(w.protection(&key).await.status, ProtectionStatus::Placing);
    assert_eq!(w.protect().await.moved, 1, "found by lookup");
    let p = w.protection(&key).await;
    assert_eq!(p.status, ProtectionStatus::Active);
    assert_eq!(w.calls("private/advanced/create-oco applied, answer lost"), 1);
    assert_eq!(
        w.calls("private/advanced/create-oco accepted") + w.calls("private/advanced/create-oco duplicate"),
        0
    );
    // 100 USDT at 2000: 0.05 ETH less the 0.1 % fee in ETH = 0.04995, down to the 0.0001 step; 2 % either side.
    let mut legs = w.stand_in.legs();
    legs.sort_by_key(|l| l.2);
    let shape: Vec<(Decimal, Decimal, &str)> = legs.iter().map(|l| (l.2, l.3, l.4)).collect();
    let q: Decimal = "0.0499".parse().unwrap();
    assert_eq!(
        shape,
        [(Decimal::from(1960), q, "ACTIVE"), (Decimal::from(2040), q, "ACTIVE")]
    );
    assert_eq!(w.said("SL/TP PLACED"), 1);
    assert_eq!(w.protect().await.moved, 0, "nothing new");
    assert_eq!(w.stand_in.legs().len(), 2, "never a second protection");
}

#[tokio::test]
async fn a_stop_refused_three_times_flattens_the_position_and_says_so() {
    let w = World::new("protect-flat").await;
    w.stand_in.refuse_ocos(3);
    let (key, step) = w.bought_with(2).await;
    assert_eq!((step.moved, step.failed), (1, 1), "counted (ProtectionFailures)");
    assert_eq!(w.protection(&key).await.status, ProtectionStatus::Flattening);
    assert_eq!(w.calls("private/advanced/create-oco refused"), 3);
    assert_eq!(w.said("PROTECTION FAILED — POSITION CLOSED"), 1);
    assert_eq!(w.protect().await.moved, 1, "the flatten SELL's fill read");
    let p = w.protection(&key).await;
    assert_eq!((p.status, p.fills.len()), (ProtectionStatus::Closed, 1));
    assert_eq!(w.said("POSITION FLATTENED"), 1);
    let sells: Vec<_> = w.stand_in.fills().into_iter().filter(|f| f.side == "SELL").collect();
    assert_eq!(sells.len(), 1, "one market SELL");
    assert_eq!(sells[0].client_oid, Leg::Flatten.client_oid(&key).as_str());
    // What the step left behind (0.04995 held, 0.0499 sold): below one exchange step, never sold again.
    assert_eq!(w.held().await, "0.00005".parse::<Decimal>().unwrap());
    assert_eq!(w.protect().await.looked_at, 0);
}

#[tokio::test]
async fn a_take_profit_fill_closes_the_position_with_its_pnl_and_the_stop_is_cancelled() {
    let w = World::new("protect-tp").await;
    w.stand_in.charge_buy_fees_in_quote(true);
    let key = w.bought(3).await;
    let tp = Leg::TakeProfit.client_oid(&key);
    assert!(w.stand_in.trigger(tp.as_str(), false));
    assert_eq!(w.protect().await.moved, 1);
    let p = w.protection(&key).await;
    assert_eq!(p.status, ProtectionStatus::Closed);
    let stop = Leg::StopLoss.client_oid(&key);
    let legs = w.stand_in.legs();
    assert_eq!(legs.iter().find(|l| l.0 == stop.as_str()).unwrap().4, "CANCELED");
    assert_eq!(w.held().await, Decimal::ZERO);
    // Bought 0.05 at 2000 (fee 0.1 USDT), sold at 2040 (fee 0.102): 102 − 0.102 − 100.1 = 1.798 USDT.
    let msg = w
        .notifier
        .sent()
        .into_iter()
        .find(|m| m.contains("TAKE PROFIT HIT"))
        .unwrap();
    assert!(msg.contains("1.798 USDT"), "{msg}");
    let report = invariants::collect(
        Stores::of(&w.store),
        &ReportQuery::default(),
        Utc::now(),
        Duration::seconds(120),
    )
    .await
    .unwrap();
    let pos = &report.positions[0];
    assert_eq!(
        (pos.quantity, pos.realized_pnl_quote),
        (Decimal::ZERO, "1.798".parse().unwrap())
    );
    assert_eq!(
        pos.protection.as_ref().map(|p| p.status),
        Some(ProtectionStatus::Closed)
    );
    assert!(report.pass, "{:?}", report.violations);
}

#[tokio::test]
async fn a_sell_signal_cancels_the_protection_first_then_sells_what_is_held() {
    let w = World::new("protect-sell").await;
    w.stand_in.charge_buy_fees_in_quote(true);
    w.stand_in.cancels_wait(true);
    let key = w.bought(4).await;
    // Sized at its own price, the SELL's configured amount would sell far less than the 0.05 ETH held: having taken
    // the position off its stop, it sells all of it.
    let sell = SignalRecord {
        price: Decimal::from(100_000),
        ..w.signal(Side::Sell, 5)
    };
    // The cancel is asked, not yet applied: the SELL waits, nothing is sold.
    assert!(matches!(w.deliver(&sell).await, Outcome::Retry(why) if why.contains("protection")));
    assert_eq!(w.protection(&key).await.status, ProtectionStatus::Canceling);
    assert_eq!(w.calls("private/create-order accepted"), 1, "only the BUY");
    w.stand_in.settle_cancels();
    w.clock.advance_ms(61_000);
    let Outcome::Decided(d, ..) = w.deliver(&sell).await else {
        panic!("decided")
    };
    assert_eq!(d.reason_code, ReasonCode::ExecOrderPlaced);
    assert_eq!(w.protection(&key).await.status, ProtectionStatus::Released);
    assert_eq!(w.follow().await, 1, "the SELL's fill");
    assert_eq!(w.held().await, Decimal::ZERO);
    let sells: Vec<_> = w
        .stand_in
        .fills()
        .into_iter()
        .filter(|f| f.side == "SELL" && f.quantity > Decimal::ZERO)
        .collect();
    assert_eq!(sells.len(), 1, "the SELL signal's order alone");
    assert_eq!(
        sells[0].quantity,
        "0.05".parse::<Decimal>().unwrap(),
        "what the ledger holds"
    );
    assert!(w.stand_in.legs().iter().all(|l| l.4 == "CANCELED"));
}

/// A SELL that took the position off its stop and was then refused leaves coins without a stop: the report says so
/// (UNPROTECTED_POSITION) once `UNPROTECTED_AFTER_MINUTES` have passed, and not before.
#[tokio::test]
async fn a_sell_refused_after_releasing_the_protection_is_an_unprotected_position() {
    let w = World::new("protect-sell-refused").await;
    let key = w.bought(8).await;
    w.stand_in.refuse_orders(1);
    let sell = w.signal(Side::Sell, 9);
    assert!(matches!(w.deliver(&sell).await, Outcome::Retry(why) if why.contains("protection")));
    w.clock.advance_ms(61_000);
    let Outcome::Decided(d, ..) = w.deliver(&sell).await else {
        panic!("decided")
    };
    assert_eq!(d.reason_code, ReasonCode::InsufficientFunds);
    assert_eq!(w.protection(&key).await.status, ProtectionStatus::Released);
    assert!(w.held().await > Decimal::ZERO, "still held, now without a stop");
    let store = &w.store;
    let unprotected = |at| async move {
        invariants::collect(Stores::of(store), &ReportQuery::default(), at, Duration::seconds(120))
            .await
            .unwrap()
            .counts
            .unprotected_positions
    };
    assert_eq!(unprotected(Utc::now()).await, 0, "the SELL just failed");
    assert_eq!(unprotected(Utc::now() + Duration::minutes(8)).await, 1);
}

#[tokio::test]
async fn a_cancel_that_loses_to_a_fill_records_the_fill_and_never_sells_twice() {
    let w = World::new("protect-race").await;
    w.stand_in.charge_buy_fees_in_quote(true);
    w.stand_in.cancels_wait(true);
    let key = w.bought(6).await;
    let sell = w.signal(Side::Sell, 7);
    assert!(matches!(w.deliver(&sell).await, Outcome::Retry(_)));
    // The stop fills before the cancel takes effect (the exchange cancels its sibling).
    assert!(w.stand_in.trigger(Leg::StopLoss.client_oid(&key).as_str(), false));
    w.stand_in.settle_cancels();
    w.clock.advance_ms(61_000);
    let Outcome::Decided(d, ..) = w.deliver(&sell).await else {
        panic!("decided")
    };
    assert_eq!(d.reason_code, ReasonCode::SellRequiresPosition, "the stop sold it all");
    let p = w.protection(&key).await;
    assert_eq!((p.status, p.fills.len()), (ProtectionStatus::Closed, 1));
    let sells: Vec<_> = w
        .stand_in
        .fills()
        .into_iter()
        .filter(|f| f.side == "SELL" && f.quantity > Decimal::ZERO)
        .collect();
    assert_eq!(sells.len(), 1, "the stop alone sold");
    assert_eq!(w.held().await, Decimal::ZERO);
    // The ledger is the exchange's truth: bought 0.05 at 2000, sold 0.05 at 1960, fees 0.1 + 0.098.
    let report = invariants::collect(
        Stores::of(&w.store),
        &ReportQuery::default(),
        Utc::now(),
        Duration::seconds(120),
    )
    .await
    .unwrap();
    assert_eq!(
        report.positions[0].realized_pnl_quote,
        "-2.198".parse::<Decimal>().unwrap()
    );
    assert_eq!(report.positions[0].unmatched_sell_quantity, Decimal::ZERO);
}
