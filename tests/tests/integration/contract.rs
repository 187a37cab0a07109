//! One storage contract, run against both stores: the in-memory fake the unit tests and the simulation use, and the
//! DynamoDB adapter against the emulator. Where the two disagree, the simulation proves something about a store
//! that does not exist — so every conditional write's outcome is checked here on both.

use crate::support;

use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use shared::decision::ReasonCode;
use shared::fakes::MemoryStore;
use shared::flow::orchestration::decision_for;
use shared::ids::{Side, Symbol};
use shared::market::strategy::Emission;
use shared::order::IntentStatus;
use shared::outbox::{AlertKind, AlertRecord, AlertStatus};
use shared::ports::{
    AlertStore, Claim, ClaimRequest, Finalization, FinalizeOutcome, IntentStore, PutOutcome, SignalStore, Store,
};
use shared::risk::{Control, CounterDelta, Halt, Reservation, RiskLimits, Usage};
use shared::watchlist::WatchlistEntry;
use tests::{provision, TestEnv};

fn entry() -> WatchlistEntry {
    serde_json::from_value(serde_json::json!({
        "symbol": "ETH_BTC", "preset": "swing-aggressive", "max_exposure_usd": "250", "max_orders_per_day": 4,
        "max_daily_loss_usd": "40", "sell_held_elsewhere": true
    }))
    .unwrap()
}

fn outbox_row(alert_id: &str) -> AlertRecord {
    AlertRecord {
        alert_id: alert_id.to_string(),
        kind: AlertKind::OrderFailed,
        symbol: Symbol::parse("ETH_BTC").unwrap(),
        side: Side::Buy,
        text: "❌ ORDER FAILED".into(),
        status: AlertStatus::Pending,
        telegram_message_id: None,
        attempts: 0,
        last_error: None,
        created_at: Utc::now(),
        sent_at: None,
    }
}

async fn alerts(store: &dyn Store, id: &str) -> Vec<AlertRecord> {
    AlertStore::get_many(store, &[id.to_string()]).await.unwrap()
}

async fn intents(store: &dyn Store, key: &shared::ids::IdempotencyKey) -> Vec<shared::order::OrderIntent> {
    IntentStore::get_many(store, std::slice::from_ref(key)).await.unwrap()
}

/// The contract. `store` is empty but for a watchlist row for ETH_BTC.
async fn contract(store: &dyn Store) {
    let now = Utc::now();
    let s = support::signal("ETH_BTC", Side::Buy, 1_516_579_200_000, now);
    let msg = s.to_message();

    // Signals: one row per id, ever; the stored row comes back on conflict.
    assert_eq!(SignalStore::put_new(store, &s).await.unwrap(), PutOutcome::Created);
    assert!(
        matches!(SignalStore::put_new(store, &s).await.unwrap(), PutOutcome::Exists(old) if old.signal_id == s.signal_id)
    );
    let ghost = support::signal("ETH_BTC", Side::Sell, 7, now);
    let got = store
        .get_signals(&[s.signal_id.clone(), ghost.signal_id.clone()])
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "only existing signals come back");

    // Claim: refused for a missing or different signal, created once, then the stored intent comes back.
    let pending = support::intent(&s, IntentStatus::Pending, now + Duration::seconds(60), now);
    assert!(matches!(
        store
            .claim(ClaimRequest::plain(
                &support::intent(&ghost, IntentStatus::Pending, now, now),
                &ghost.to_message()
            ))
            .await
            .unwrap(),
        Claim::SignalMismatch(_)
    ));
    let mut richer = msg.clone();
    richer.trade_amount_usd = Decimal::from(1_000);
    assert!(
        matches!(store.claim(ClaimRequest::plain(&pending, &richer)).await.unwrap(), Claim::SignalMismatch(why) if why.contains("trade_amount_usd"))
    );
    assert!(
        intents(store, &s.idempotency_key()).await.is_empty(),
        "a refused claim writes nothing"
    );
    assert_eq!(
        store.claim(ClaimRequest::plain(&pending, &msg)).await.unwrap(),
        Claim::Created
    );
    match store.claim(ClaimRequest::plain(&pending, &msg)).await.unwrap() {
        Claim::Exists(old) => assert_eq!((old.attempt, old.status), (1, IntentStatus::Pending)),
        other => panic!("{other:?}"),
    }
    let window = store
        .intents_created_between(now - Duration::minutes(1), now + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(window.len(), 1, "intents are found by creation time");

    // Takeover: conditional on the attempt seen; the loser learns nothing was taken.
    let mine = store
        .take_over(&pending, now.timestamp_millis() + 90_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mine.attempt, 2);
    assert!(
        store.take_over(&pending, 0).await.unwrap().is_none(),
        "attempt 1 is gone"
    );
    assert!(!store.save_owned(&pending).await.unwrap(), "attempt 1 is fenced off");
    let mut unknown = mine.clone();
    unknown.status = IntentStatus::Unknown;
    assert!(store.save_owned(&unknown).await.unwrap());

    // Finalize: fenced on the attempt; atomic with the decision and the outbox row.
    let mut failed = mine.clone();
    failed.status = IntentStatus::OrderFailed;
    failed.error_code = Some(ReasonCode::InsufficientFunds);
    let alert = outbox_row(&AlertRecord::failure_id(&s.idempotency_key()));
    let fin = |intent: shared::order::OrderIntent| Finalization {
        decision: decision_for(&intent, now),
        signal_id: s.signal_id.clone(),
        intent,
        alert: Some(alert.clone()),
        counters: Vec::new(),
    };
    let stale = fin(pending.clone());
    assert_eq!(store.finalize(&stale).await.unwrap(), FinalizeOutcome::Fenced);
    assert!(
        alerts(store, &alert.alert_id).await.is_empty(),
        "a fenced finalize writes nothing"
    );
    assert_eq!(
        store.finalize(&fin(failed.clone())).await.unwrap(),
        FinalizeOutcome::Committed
    );
    let stored = intents(store, &s.idempotency_key()).await;
    assert_eq!(stored[0].status, IntentStatus::OrderFailed);
    // A finalize keeps the attempt: a worker that read the intent PENDING at attempt 2 before the finalize must not
    // take the decided intent over (it would resend the order after its FAILED decision).
    assert!(
        store.take_over(&mine, 0).await.unwrap().is_none(),
        "a decided intent is never taken over"
    );
    assert_eq!(intents(store, &s.idempotency_key()).await[0].attempt, 2);
    let row = store
        .get_signals(std::slice::from_ref(&s.signal_id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(row.decision.unwrap().reason_code, ReasonCode::InsufficientFunds);
    assert_eq!(alerts(store, &alert.alert_id).await.len(), 1);

    // A different decision for the same signal is a conflict, and changes nothing.
    let mut placed = failed.clone();
    placed.status = IntentStatus::OrderPlaced;
    placed.order_id = Some("42".into());
    let conflicting = Finalization {
        alert: None,
        ..fin(placed)
    };
    assert_eq!(
        store.finalize(&conflicting).await.unwrap(),
        FinalizeOutcome::DecisionConflict
    );
    assert_eq!(
        intents(store, &s.idempotency_key()).await[0].status,
        IntentStatus::OrderFailed
    );

    // A finalize whose outbox row exists already keeps that row (its message is on its way) and commits the rest.
    let s2 = support::signal("XRP_USDT", Side::Sell, 1_637_000_000_000, now);
    SignalStore::put_new(store, &s2).await.unwrap();
    let p2 = support::intent(&s2, IntentStatus::Pending, now + Duration::seconds(60), now);
    assert_eq!(
        store.claim(ClaimRequest::plain(&p2, &s2.to_message())).await.unwrap(),
        Claim::Created
    );
    let mut early = outbox_row(&AlertRecord::failure_id(&s2.idempotency_key()));
    early.text = "already queued".into();
    assert!(AlertStore::put_new(store, &early).await.unwrap());
    let mut f2 = p2.clone();
    f2.status = IntentStatus::OrderFailed;
    f2.error_code = Some(ReasonCode::Timeout);
    let with_row = Finalization {
        decision: decision_for(&f2, now),
        signal_id: s2.signal_id.clone(),
        intent: f2,
        alert: Some(outbox_row(&early.alert_id)),
        counters: Vec::new(),
    };
    assert_eq!(store.finalize(&with_row).await.unwrap(), FinalizeOutcome::Committed);
    assert_eq!(
        intents(store, &s2.idempotency_key()).await[0].status,
        IntentStatus::OrderFailed
    );
    assert_eq!(alerts(store, &early.alert_id).await[0].text, "already queued");

    // A signal row gone between claim and finalize: nothing is written.
    let gone = Finalization {
        signal_id: ghost.signal_id.clone(),
        ..with_row.clone()
    };
    assert_eq!(store.finalize(&gone).await.unwrap(), FinalizeOutcome::SignalMissing);

    // Decisions outside finalize: the same one again is accepted, another refused, a missing signal an error.
    let d = |code: ReasonCode| shared::fakes::decision(code, now);
    let key = s.idempotency_key();
    assert!(store
        .record_decision(&s.signal_id, &key, &d(ReasonCode::InsufficientFunds))
        .await
        .unwrap());
    assert!(!store
        .record_decision(&s.signal_id, &key, &d(ReasonCode::ExecOrderPlaced))
        .await
        .unwrap());
    assert!(store
        .record_decision(
            &ghost.signal_id,
            &ghost.idempotency_key(),
            &d(ReasonCode::ExecOrderPlaced)
        )
        .await
        .is_err());

    // Alerts outbox: created once; delivery and failed attempts recorded.
    let other = outbox_row("signal:contract");
    assert!(AlertStore::put_new(store, &other).await.unwrap());
    assert!(!AlertStore::put_new(store, &other).await.unwrap());
    store
        .mark_failed_attempt("signal:contract", "telegram down")
        .await
        .unwrap();
    store.mark_sent("signal:contract", 99, now).await.unwrap();
    let a = alerts(store, "signal:contract").await.remove(0);
    assert_eq!(
        (a.status, a.telegram_message_id, a.attempts, a.last_error.as_deref()),
        (AlertStatus::Sent, Some(99), 2, Some("telegram down"))
    );
    assert!(
        store.mark_sent("signal:none", 1, now).await.is_err(),
        "no row is created by a delivery"
    );

    // Watchlist: an emission is claimed on the condition that the last one is still the one read.
    let sym = Symbol::parse("ETH_BTC").unwrap();
    let first = Emission {
        candle_open_ms: 1,
        price: Decimal::ONE,
        signal_id: Some("ETH_BTC:BUY:1".into()),
        claimed_at_ms: Some(now.timestamp_millis()),
        claim_token: Some("run-a".into()),
    };
    let second = Emission {
        candle_open_ms: 2,
        claim_token: Some("run-b".into()),
        ..first.clone()
    };
    assert!(store.record_emission(&sym, Side::Buy, None, &first).await.unwrap());
    assert!(
        !store.record_emission(&sym, Side::Buy, None, &second).await.unwrap(),
        "not None any more"
    );
    assert!(
        store.record_emission(&sym, Side::Buy, None, &first).await.unwrap(),
        "the same claim written again (a retry after a lost answer) is not another run's"
    );
    assert!(store
        .record_emission(&sym, Side::Buy, Some(&first), &second)
        .await
        .unwrap());
    let listed = store.list().await.unwrap();
    assert_eq!(listed[0].last(Side::Buy), Some(&second));
    assert_eq!(listed[0].last(Side::Sell), None);

    risk_contract(store).await;
}

/// The risk guard's part (docs/DESIGN.md §11): the control row's versions, the counters' conditions, the per-symbol
/// limits, the breaker's run and the Telegram update log.
async fn risk_contract(store: &dyn Store) {
    let now = Utc::now();
    // Control row: defaults while absent; replaced only from the version seen.
    let c0 = store.control().await.unwrap();
    assert_eq!(c0, Control::default());
    let mut halted = c0.clone();
    halted.halt = Some(Halt {
        announced: false,
        reason: "contract".into(),
        by: "test".into(),
        at: now,
    });
    halted.limits.max_orders_per_day = Some(2);
    assert!(store.replace_control(0, &halted).await.unwrap());
    assert!(!store.replace_control(0, &c0).await.unwrap(), "version 0 is gone");
    let c1 = store.control().await.unwrap();
    assert_eq!((c1.version, c1.limits.max_orders_per_day), (1, Some(2)));
    assert_eq!(c1.halt.as_ref().map(|h| h.reason.as_str()), Some("contract"));

    // A claim built from an older control row writes nothing and returns the row as it is now.
    let s = support::signal("ETH_BTC", Side::Sell, 1_600_000_000_000, now);
    SignalStore::put_new(store, &s).await.unwrap();
    let msg = s.to_message();
    let intent = support::intent(&s, IntentStatus::Pending, now + Duration::seconds(60), now);
    let key = "day#contract".to_string();
    let reserve = |orders_under: Option<u32>, usd_at_most: Option<Decimal>| Reservation {
        delta: CounterDelta {
            key: key.clone(),
            usd: Decimal::from(100),
            orders: 1,
        },
        scope: shared::risk::LimitScope::GlobalDay,
        usd_at_most,
        orders_under,
        max_usd: usd_at_most.map(|m| m + Decimal::from(100)),
    };
    let within = [reserve(Some(1), Some(Decimal::from(50)))];
    let listed: &'static RiskLimits = Box::leak(Box::new(entry().limits));
    let guarded = |version: u64, limits: &'static RiskLimits, reservations: &'static [Reservation]| ClaimRequest {
        intent: &intent,
        msg: &msg,
        control_version: Some(version),
        symbol_limits: Some(limits),
        reservations,
        alert: None,
    };
    let within: &'static [Reservation] = Box::leak(Box::new(within));
    match store.claim(guarded(0, listed, within)).await.unwrap() {
        Claim::ControlChanged(now) => assert_eq!(now.version, 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.usage(&key).await.unwrap(), Usage::default(), "nothing reserved");

    // A claim built from other watchlist limits than the symbol's row holds (here: none) writes nothing and returns
    // the row's limits: a container's cached copy costs a refused claim, never a decision on stale limits.
    let unlisted: &'static RiskLimits = Box::leak(Box::default());
    match store.claim(guarded(1, unlisted, within)).await.unwrap() {
        Claim::LimitsChanged(now) => assert_eq!(&*now, listed),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.usage(&key).await.unwrap(), Usage::default(), "nothing reserved");
    assert!(intents(store, &s.idempotency_key()).await.is_empty());

    // Within the limits: the intent and the reservation, together.
    assert_eq!(store.claim(guarded(1, listed, within)).await.unwrap(), Claim::Created);
    let used = Usage {
        usd: Decimal::from(100),
        orders: 1,
    };
    assert_eq!(store.usage(&key).await.unwrap(), used);

    // At the limit: nothing written, and the counter as it is comes back.
    let s2 = support::signal("ETH_BTC", Side::Sell, 1_600_000_060_000, now);
    SignalStore::put_new(store, &s2).await.unwrap();
    let (msg2, intent2) = (
        s2.to_message(),
        support::intent(&s2, IntentStatus::Pending, now + Duration::seconds(60), now),
    );
    for (orders_under, usd_at_most) in [(Some(1), None), (None, Some(Decimal::from(99)))] {
        let req = ClaimRequest {
            intent: &intent2,
            msg: &msg2,
            control_version: Some(1),
            symbol_limits: None,
            reservations: &[reserve(orders_under, usd_at_most)],
            alert: None,
        };
        assert_eq!(store.claim(req).await.unwrap(), Claim::LimitExceeded { index: 0, used });
    }
    assert!(intents(store, &s2.idempotency_key()).await.is_empty());

    // A finalize releases what it is given.
    let mut done = intent.clone();
    done.status = IntentStatus::OrderFailed;
    done.error_code = Some(ReasonCode::Timeout);
    let release = Finalization {
        decision: decision_for(&done, now),
        signal_id: s.signal_id.clone(),
        intent: done,
        alert: None,
        counters: vec![reserve(None, None).delta.released()],
    };
    assert_eq!(store.finalize(&release).await.unwrap(), FinalizeOutcome::Committed);
    assert_eq!(store.usage(&key).await.unwrap(), Usage::default(), "released to zero");

    // Per-symbol limits come from the watchlist row; a symbol without a row has none.
    let sym = Symbol::parse("ETH_BTC").unwrap();
    assert_eq!(store.symbol_limits(&sym).await.unwrap(), entry().limits);
    let none = Symbol::parse("DOGE_USDT").unwrap();
    assert_eq!(store.symbol_limits(&none).await.unwrap(), RiskLimits::default());
    assert!(store.sells_held_elsewhere(&sym).await.unwrap());
    assert!(
        !store.sells_held_elsewhere(&none).await.unwrap(),
        "no row: only what is held"
    );

    // The breaker's run and the Telegram update log.
    assert_eq!(store.record_streak(false).await.unwrap(), 0);
    assert_eq!(store.record_streak(true).await.unwrap(), 1);
    assert_eq!(store.record_streak(true).await.unwrap(), 2);
    assert_eq!(store.record_streak(false).await.unwrap(), 0);
    assert_eq!(store.record_streak(true).await.unwrap(), 1);
    assert!(store.first_update(7, now).await.unwrap());
    assert!(!store.first_update(7, now).await.unwrap(), "handled once");
}

#[tokio::test]
async fn the_in_memory_store_keeps_the_contract() {
    contract(&MemoryStore::with_watchlist(vec![entry()])).await;
}

#[tokio::test]
async fn the_dynamodb_store_keeps_the_contract() {
    let env = TestEnv::new("contract").await;
    provision::seed_watchlist(
        &aws_sdk_dynamodb::Client::new(&env.aws),
        &env.p.tables.watchlist,
        &[entry()],
    )
    .await
    .unwrap();
    contract(&env.store()).await;
}
