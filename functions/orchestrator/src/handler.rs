//! Orchestrator: one SQS batch in, a partial batch response out. Each record is parsed at the edge (a bad body is
//! reported as a batch item failure, so it reaches the DLQ after maxReceiveCount, with the reason logged) and run
//! through the state machine in `shared::flow::orchestration`; records that must be retried are reported, the rest acked.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;

use shared::decision::{Decision, DecisionType};
use shared::flow::follow::{Followed, Follower};
use shared::flow::orchestration::{Orchestrator, Outcome};
use shared::ids::Side;
use shared::order::OrderIntent;
use shared::ports::Notifier;
use shared::signal::SignalMessage;

pub async fn handle(orchestrator: &Orchestrator<'_>, notifier: &dyn Notifier, event: SqsEvent) -> SqsBatchResponse {
    let results = join_all(event.records.iter().map(|r| process_record(orchestrator, notifier, r))).await;
    let mut response = SqsBatchResponse::default();
    for (record, ok) in event.records.iter().zip(results) {
        if !ok {
            response.add_failure(record.message_id.clone().unwrap_or_default());
        }
    }
    response
}

/// True when the record is done (acknowledge), false when it must come back.
async fn process_record(orchestrator: &Orchestrator<'_>, notifier: &dyn Notifier, record: &SqsMessage) -> bool {
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let msg = match SignalMessage::parse(record.body.as_deref().unwrap_or_default()) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(message_id, error = %e, "refusing queue message; it goes to the DLQ after maxReceiveCount");
            return false;
        }
    };
    match orchestrator.process(&msg).await {
        Ok(Outcome::Decided(d, order_alert, intent)) => {
            tracing::info!(message_id, signal_id = %msg.signal_id, decision_type = %d.decision_type,
                reason_code = %d.reason_code, order_id = d.order_id.as_deref(), "signal decided");
            if order_alert.is_some() || d.decision_type == DecisionType::Executed {
                circuit_breaker(orchestrator, notifier, &d, msg.side).await;
            }
            if let Some(alert) = order_alert {
                // The decision is durable; a failed send leaves the outbox row PENDING for the sweeper.
                let clock = orchestrator.clock;
                if let Err(e) =
                    shared::flow::deliver::deliver(orchestrator.stores.alerts, notifier, clock, &alert).await
                {
                    tracing::error!(alert_id = %alert.alert_id, error = %e, kind = %alert.kind, "recording the order message's delivery failed");
                }
            }
            if d.decision_type == DecisionType::Executed {
                follow_placed(orchestrator, notifier, &intent).await;
                if msg.side == Side::Sell {
                    loss_breaker(orchestrator, notifier, &msg.symbol).await;
                }
            }
            true
        }
        Ok(Outcome::Refused(why)) => {
            tracing::error!(message_id, signal_id = %msg.signal_id, reason = %why,
                "refusing queue message: no order, nothing written; it goes to the DLQ after maxReceiveCount");
            false
        }
        Ok(Outcome::Retry(why)) => {
            tracing::warn!(message_id, signal_id = %msg.signal_id, reason = %why, "signal left for a later delivery");
            false
        }
        Err(e) => {
            tracing::error!(message_id, signal_id = %msg.signal_id, error = %e,
                source = ?std::error::Error::source(&e), "storage failed; the delivery will be retried");
            false
        }
    }
}

/// Reads the placed order's fill once, right after the decision (docs/DESIGN.md §13): a market order usually
/// fills at once, and its ORDER EXECUTED message goes out with the decision. `intent`: as the decision left it (no
/// read; the fill's record is conditional on the stored record anyway). Whatever this misses (the order still
/// open, the exchange or the store unavailable) the sweeper's reconciliation reads later; nothing here changes the
/// decision.
async fn follow_placed(orchestrator: &Orchestrator<'_>, notifier: &dyn Notifier, intent: &OrderIntent) {
    let follower = Follower {
        stores: orchestrator.stores,
        exchange: orchestrator.exchange,
        notifier,
        clock: orchestrator.clock,
    };
    let followed = follower.follow(intent).await;
    if let Ok(Followed::Recorded { status, intent, .. }) = &followed {
        if status.is_terminal() {
            protect_placed(orchestrator, notifier, intent).await;
        }
    }
    let signal_id = &intent.signal_id;
    match followed {
        Ok(Followed::Unreadable(why)) => {
            tracing::warn!(%signal_id, reason = %why, "order fill not read; the sweeper reads it later")
        }
        Ok(f) => tracing::debug!(%signal_id, followed = ?f, "order followed"),
        Err(e) => {
            tracing::warn!(%signal_id, error = %e, "order fill not recorded; the sweeper reads it later")
        }
    }
}

/// A BUY whose fill just became final is protected at once (docs/DESIGN.md §14): the OCO is placed here, or by the
/// sweeper's next run when this step cannot be taken now. `intent`: as the fill's record just wrote it (no read;
/// every protection write is conditional on the record's version anyway). A failure is logged; nothing here changes
/// the decision.
async fn protect_placed(orchestrator: &Orchestrator<'_>, notifier: &dyn Notifier, intent: &shared::order::OrderIntent) {
    let protector = shared::flow::protect::Protector {
        stores: orchestrator.stores,
        exchange: orchestrator.exchange,
        notifier: Some(notifier),
        clock: orchestrator.clock,
        quantity_decimals: orchestrator.settings.quantity_decimals,
    };
    match protector.protect(intent).await {
        Ok(p) => tracing::debug!(signal_id = %intent.signal_id, protected = ?p, "protection step"),
        Err(e) => {
            tracing::warn!(signal_id = %intent.signal_id, error = %e, "protection not recorded; the sweeper does it")
        }
    }
}

/// A SELL's fill may realize a loss: the loss breaker halts trading when today's reached the limit (docs/DESIGN.md
/// §13), announced once. A failure here is logged; the sweeper checks again on its next run.
async fn loss_breaker(orchestrator: &Orchestrator<'_>, notifier: &dyn Notifier, sold: &shared::ids::Symbol) {
    let dust = shared::flow::follow::dust(orchestrator.settings.quantity_decimals);
    let now = orchestrator.clock.now();
    let sold = std::slice::from_ref(sold);
    match shared::flow::breaker::check_daily_loss(
        orchestrator.stores.intents,
        orchestrator.stores.control,
        sold,
        dust,
        now,
    )
    .await
    {
        Ok(None) => {}
        Ok(Some(halt)) => {
            tracing::error!(reason = %halt.reason, "loss breaker tripped: trading halted until resumed");
            announce(orchestrator, notifier).await;
        }
        Err(e) => tracing::error!(error = %e, "loss breaker not checked for this fill; the sweeper checks again"),
    }
}

/// The TRADING HALTED message of the halt just tripped; what does not go out now, the sweeper sends.
async fn announce(orchestrator: &Orchestrator<'_>, notifier: &dyn Notifier) {
    if let Err(e) = shared::flow::trading::announce_halt(orchestrator.stores.control, notifier).await {
        tracing::error!(error = %e, "the TRADING HALTED message was not recorded as sent; the halt stands (see status)");
    }
}

/// Tells the circuit breaker of an order decided now (docs/DESIGN.md §11); a halt it trips is announced once. A
/// failure here never changes the decision (it is durable already): it is logged, and the breaker misses one count.
async fn circuit_breaker(orchestrator: &Orchestrator<'_>, notifier: &dyn Notifier, d: &Decision, side: Side) {
    let now = orchestrator.clock.now();
    let tripped = async {
        let control = match orchestrator.guard.get() {
            Some(c) => c,
            None => orchestrator.stores.control.control().await?,
        };
        shared::flow::trading::record_outcome(orchestrator.stores.control, &control, d, side, now).await
    };
    match tripped.await {
        Ok(None) => {}
        Ok(Some(halt)) => {
            tracing::error!(reason = %halt.reason, "circuit breaker tripped: trading halted until resumed");
            announce(orchestrator, notifier).await;
        }
        Err(e) => tracing::error!(error = %e, "circuit breaker not updated for this decision"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use shared::adapters::paper::PaperExchange;
    use shared::decision::{DecisionType, ReasonCode};
    use shared::fakes::{ManualClock, MemoryNotifier, MemoryStore};
    use shared::flow::orchestration::OrchestratorSettings;
    use shared::ids::{Side, SignalId, Symbol};
    use shared::order::{ExecutionMode, IntentStatus};
    use shared::ports::{Exchange, SignalStore};
    use shared::signal::SignalRecord;

    const SAMPLE_EVENT: &str = include_str!("../../../events/orchestrator-sqs.json");

    /// Five seconds after the sample message's `emitted_at`: the signals are fresh.
    fn sample_clock() -> ManualClock {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-26T01:00:05Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        ManualClock::new(t, 0)
    }

    /// The paper exchange with a minimum of `min_usd` and a USD price for BTC (the sample signal is ETH_BTC).
    fn paper(min_usd: i64) -> PaperExchange {
        let prices = [("BTC".to_string(), Decimal::from(12_000))].into_iter().collect();
        PaperExchange::new(shared::money::Usd(Decimal::from(min_usd)), prices)
    }

    fn orchestrator<'a>(
        store: &'a MemoryStore,
        exchange: &'a PaperExchange,
        clock: &'a ManualClock,
        mode: ExecutionMode,
    ) -> Orchestrator<'a> {
        let settings = OrchestratorSettings {
            mode,
            ..Default::default()
        };
        Orchestrator {
            stores: shared::ports::Stores::of(store),
            guard: Box::leak(Box::default()),
            exchange,
            clock,
            settings,
        }
    }

    /// The signal row the sample message names (emitted at 01:00:00, five seconds before the sample clock).
    fn sample_signal(clock: &ManualClock) -> SignalRecord {
        let sym = Symbol::parse("ETH_BTC").unwrap();
        let emitted = shared::ports::Clock::now(clock) - chrono::Duration::seconds(5);
        shared::fakes::sent_signal(&sym, Side::Buy, 1516579200000, Decimal::new(921, 4), emitted)
    }

    async fn store_with(s: &SignalRecord) -> MemoryStore {
        let store = MemoryStore::default();
        SignalStore::put_new(&store, s).await.unwrap();
        store
    }

    async fn store_with_sample_signal(clock: &ManualClock) -> MemoryStore {
        store_with(&sample_signal(clock)).await
    }

    #[tokio::test]
    async fn sample_event_places_one_paper_order_and_redelivery_changes_nothing() {
        let clock = sample_clock();
        let store = store_with_sample_signal(&clock).await;
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let event: SqsEvent = serde_json::from_str(SAMPLE_EVENT).unwrap();

        let notifier = MemoryNotifier::default();
        let resp = handle(&orch, &notifier, event.clone()).await;
        let failed: Vec<&str> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(
            failed,
            ["bad-version-0002", "not-json-0003"],
            "only the malformed records fail"
        );
        let intents = store.intents();
        assert_eq!(intents.len(), 1);
        assert_eq!(intents[0].status, IntentStatus::OrderPlaced);
        let d = store.signals()[0].decision.clone().unwrap();
        assert_eq!(
            (d.decision_type, d.reason_code),
            (DecisionType::Executed, ReasonCode::ExecOrderPlaced)
        );

        clock.advance_ms(5_000);
        let again = handle(&orch, &notifier, event).await;
        assert_eq!(again.batch_item_failures.len(), 2);
        assert_eq!(store.intents(), intents, "redelivery does not touch the intent");
        let sent = notifier.sent();
        assert_eq!(
            sent.len(),
            3,
            "one ORDER PLACED confirmation, one ORDER EXECUTED and one SL/TP PLACED, not one per delivery: {sent:?}"
        );
        // The BUY's fill was final: its protection was placed at once (docs/DESIGN.md §14).
        assert!(sent[2].contains("SL/TP PLACED"), "{}", sent[2]);
        let protection = intents[0].protection.clone().expect("protected right after the fill");
        assert_eq!(protection.status, shared::order::ProtectionStatus::Active);
        assert!(
            sent[0].contains("ORDER PLACED") && sent[0].contains("<b>PAPER</b>"),
            "{}",
            sent[0]
        );
        // The paper order filled at once, at the signal's price, with the taker fee in the quote currency; the fill
        // was read right after the decision.
        assert!(
            sent[1].contains("ORDER EXECUTED") && sent[1].contains("<b>PAPER</b>"),
            "{}",
            sent[1]
        );
        let fill = intents[0].fill.clone().expect("the fill was read right after placing");
        assert_eq!(fill.status, shared::order::OrderStatus::Filled);
        assert_eq!(fill.average_price, Decimal::new(921, 4));
        assert_eq!(fill.fee_currency, "BTC");
        // $100 at 12,000 USD per BTC: a BUY of 0.00833… BTC, recorded with its rate and source.
        let sizing = intents[0].sizing.clone().unwrap();
        assert_eq!(sizing.notional.currency, "BTC");
        assert_eq!(sizing.notional.amount.round_dp(8), Decimal::new(833333, 8));
        assert_eq!(sizing.quote_price.source, "config:PAPER_USD_PRICES");
        assert_eq!(store.signals()[0].decision.clone().unwrap(), d, "nor the decision");
    }

    #[tokio::test]
    async fn neither_live_nor_paper_blocks_at_the_claim() {
        let clock = sample_clock();
        let store = store_with_sample_signal(&clock).await;
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Blocked);
        let event: SqsEvent = serde_json::from_str(SAMPLE_EVENT).unwrap();
        let notifier = MemoryNotifier::default();
        handle(&orch, &notifier, event).await;
        assert_eq!(store.intents()[0].status, IntentStatus::BlockedLiveTrading);
        let d = store.signals()[0].decision.clone().unwrap();
        assert_eq!(
            (d.decision_type, d.reason_code),
            (DecisionType::Skipped, ReasonCode::OrderBlockedLiveTrading)
        );
        assert!(d.reason_message.contains("ETH_BTC BUY"));
    }

    #[tokio::test]
    async fn a_live_lease_of_another_worker_is_retried_later() {
        let clock = sample_clock();
        let store = store_with_sample_signal(&clock).await;
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let msg = shared::signal::SignalMessage::parse(include_str!("../../../events/signal-message.json")).unwrap();
        // Another worker claimed and is still inside its lease.
        let now = shared::ports::Clock::now(&clock);
        let intent = shared::fakes::intent(
            &sample_signal(&clock),
            IntentStatus::Pending,
            now + chrono::Duration::seconds(30),
            now,
        );
        assert_eq!(intent.idempotency_key, msg.idempotency_key, "the message's signal");
        store.insert_intent(intent);
        assert!(matches!(orch.process(&msg).await.unwrap(), Outcome::Retry(_)));
        assert!(store.signals()[0].decision.is_none());
    }

    #[tokio::test]
    async fn a_failed_order_sends_order_failed_and_a_telegram_outage_leaves_it_pending() {
        let clock = sample_clock();
        let store = store_with_sample_signal(&clock).await;
        // A minimum notional above the trade amount: the paper exchange refuses with MIN_NOTIONAL_NOT_MET.
        let exchange = paper(1_000);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let notifier = MemoryNotifier::default();
        notifier.set_failing(true);
        let event: SqsEvent = serde_json::from_str(SAMPLE_EVENT).unwrap();
        handle(&orch, &notifier, event).await;
        let d = store.signals()[0].decision.clone().unwrap();
        assert_eq!(
            (d.decision_type, d.reason_code),
            (DecisionType::Failed, ReasonCode::MinNotionalNotMet)
        );
        assert!(d.reason_message.contains("ETH_BTC BUY"), "{}", d.reason_message);
        assert!(d.exchange_error_snippet.unwrap().contains("MIN_NOTIONAL"));
        let alert = store.alerts().remove(0);
        assert_eq!(
            (alert.status, alert.attempts),
            (shared::outbox::AlertStatus::Pending, 1),
            "outage: left PENDING"
        );
        assert_eq!(
            store.intents()[0].status,
            IntentStatus::OrderFailed,
            "the outage changes no decision"
        );

        // Telegram is back: delivering the outbox row records the message id.
        notifier.set_failing(false);
        let id = shared::flow::deliver::deliver(&store, &notifier, &clock, &alert)
            .await
            .unwrap();
        assert_eq!(id, Some(1));
        let sent = notifier.sent().remove(0);
        assert!(
            sent.contains("ORDER FAILED")
                && sent.contains("ETH_BTC")
                && sent.contains("BUY")
                && sent.contains("MIN_NOTIONAL_NOT_MET"),
            "{sent}"
        );
        let alert = store.alerts().remove(0);
        assert_eq!(
            (alert.status, alert.telegram_message_id),
            (shared::outbox::AlertStatus::Sent, Some(1))
        );
    }

    #[tokio::test]
    async fn trade_disabled_invalid_amounts_and_stale_signals_are_skipped_without_an_order() {
        let (fresh, stale) = (chrono::Duration::zero(), chrono::Duration::minutes(16));
        for (enabled, amount, age, code) in [
            (false, 100, fresh, ReasonCode::TradeDisabled),
            (true, 0, fresh, ReasonCode::InvalidTradeAmount),
            (true, 100, stale, ReasonCode::StaleSignal),
        ] {
            let clock = sample_clock();
            let mut signal = sample_signal(&clock);
            signal.trade_enabled = enabled;
            signal.trade_amount_usd = Decimal::from(amount);
            signal.created_at = shared::ports::Clock::now(&clock) - age;
            let store = store_with(&signal).await;
            let exchange = paper(1);
            let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
            let msg = signal.to_message();
            assert!(matches!(orch.process(&msg).await.unwrap(), Outcome::Decided(..)));
            let d = store.signals()[0].decision.clone().unwrap();
            assert_eq!((d.decision_type, d.reason_code), (DecisionType::Skipped, code));
            assert_eq!(store.intents()[0].status, IntentStatus::Skipped);
            assert_eq!(
                exchange.find_order(&msg.idempotency_key.client_oid()).await.unwrap(),
                shared::ports::Lookup::NotFound
            );
        }
    }

    #[tokio::test]
    async fn messages_the_signal_rows_do_not_back_are_refused_without_a_write() {
        let clock = sample_clock();
        let good = sample_signal(&clock);
        let store = store_with(&good).await;
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let now = shared::ports::Clock::now(&clock);
        let mut missing = good.clone();
        missing.signal_id = SignalId::new(&good.symbol, Side::Buy, 1516582800000);
        let mut richer = good.to_message();
        richer.trade_amount_usd = Decimal::from(1_000_000);
        let mut from_the_future = good.to_message();
        from_the_future.emitted_at = now + chrono::Duration::minutes(5);
        for (msg, why) in [
            (missing.to_message(), "does not exist"),
            (richer, "trade_amount_usd"),
            (from_the_future, "in the future"),
        ] {
            match orch.process(&msg).await.unwrap() {
                Outcome::Refused(reason) => assert!(reason.to_string().contains(why), "{reason}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        assert!(store.intents().is_empty(), "nothing written, no order");
        assert_eq!(
            exchange.find_order(&good.idempotency_key().client_oid()).await.unwrap(),
            shared::ports::Lookup::NotFound
        );
        // The genuine message is decided.
        assert!(matches!(
            orch.process(&good.to_message()).await.unwrap(),
            Outcome::Decided(..)
        ));
    }

    #[tokio::test]
    async fn the_order_placed_confirmation_can_be_switched_off_per_symbol() {
        let clock = sample_clock();
        let mut quiet = sample_signal(&clock);
        quiet.notify_order_placed = false;
        let store = store_with(&quiet).await;
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let Outcome::Decided(d, alert, _) = orch.process(&quiet.to_message()).await.unwrap() else {
            panic!("not decided");
        };
        assert_eq!(d.reason_code, ReasonCode::ExecOrderPlaced);
        assert!(alert.is_none(), "no ORDER PLACED message for this symbol");
        assert!(store.alerts().is_empty());
    }

    /// A SELL of ETH_BTC for the sample's $100 (0.0921 BTC per ETH, BTC at 12,000 USD): 0.09048 ETH.
    fn sample_sell(clock: &ManualClock) -> SignalRecord {
        let mut sell = sample_signal(clock);
        sell.side = Side::Sell;
        sell.signal_id = SignalId::new(&sell.symbol, Side::Sell, sell.candle_open_ms);
        sell
    }

    #[tokio::test]
    async fn a_sell_without_a_position_is_skipped_and_messaged() {
        let clock = sample_clock();
        let sell = sample_sell(&clock);
        let store = store_with(&sell).await;
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let Outcome::Decided(d, alert, _) = orch.process(&sell.to_message()).await.unwrap() else {
            panic!("not decided");
        };
        assert_eq!(
            (d.decision_type, d.reason_code),
            (DecisionType::Skipped, ReasonCode::SellRequiresPosition)
        );
        let alert = alert.expect("ORDER SKIPPED message");
        assert!(
            alert.text.contains("ORDER SKIPPED") && alert.text.contains("SELL_REQUIRES_POSITION"),
            "{}",
            alert.text
        );
        let intent = &store.intents()[0];
        assert_eq!(intent.status, IntentStatus::Skipped);
        assert!(
            intent.sizing.is_none() && intent.order_id.is_none(),
            "nothing sized, nothing sent"
        );
        let day = shared::risk::global_day_key(&shared::time::day_of(intent.created_at));
        let used = shared::ports::ControlStore::usage(&store, &day).await.unwrap();
        assert_eq!(used.orders, 0, "the reservation is released");
    }

    #[tokio::test]
    async fn a_sell_sells_at_most_what_is_held() {
        let clock = sample_clock();
        let sell = sample_sell(&clock);
        let store = store_with(&sell).await;
        store.set_held(&sell.symbol, Decimal::new(5, 2)); // 0.05 ETH held; $100 would be 0.09048
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let Outcome::Decided(d, ..) = orch.process(&sell.to_message()).await.unwrap() else {
            panic!("not decided");
        };
        assert_eq!(d.reason_code, ReasonCode::ExecOrderPlaced);
        let sizing = store.intents()[0].sizing.clone().unwrap();
        assert_eq!(sizing.quantity.map(|q| q.0), Some(Decimal::new(5, 2)));
        assert_eq!(sizing.notional.amount, Decimal::new(4605, 6)); // 0.05 × 0.0921 BTC
    }

    #[tokio::test]
    async fn a_symbol_set_to_sell_coins_held_elsewhere_sells_the_configured_amount() {
        let clock = sample_clock();
        let sell = sample_sell(&clock);
        let mut entry = shared::watchlist::WatchlistEntry::new(sell.symbol.clone());
        entry.sell_held_elsewhere = true;
        let store = MemoryStore::with_watchlist(vec![entry]);
        SignalStore::put_new(&store, &sell).await.unwrap();
        store.set_held(&sell.symbol, Decimal::new(5, 2)); // less than the 0.09048 ETH the $100 buys
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let Outcome::Decided(d, ..) = orch.process(&sell.to_message()).await.unwrap() else {
            panic!("not decided");
        };
        assert_eq!(d.reason_code, ReasonCode::ExecOrderPlaced);
        let sizing = store.intents()[0].sizing.clone().unwrap();
        assert_eq!(
            sizing.quantity.map(|q| q.0),
            Some(Decimal::new(9_048_132, 8)),
            "not capped"
        );
    }

    #[tokio::test]
    async fn an_impossible_size_is_skipped_not_a_panic() {
        // The signal row itself asks for a SELL of Decimal::MAX dollars at a price of 10^-28: the quantity overflows.
        let clock = sample_clock();
        let mut huge = sample_signal(&clock);
        huge.side = Side::Sell;
        huge.signal_id = SignalId::new(&huge.symbol, Side::Sell, huge.candle_open_ms);
        huge.trade_amount_usd = Decimal::MAX;
        huge.price = Decimal::new(1, 28);
        let store = store_with(&huge).await;
        store.set_held(&huge.symbol, Decimal::MAX);
        // With no daily cap (which would hold this order back first), sizing itself must refuse it.
        let uncapped = shared::risk::Control {
            limits: shared::risk::RiskLimits::default(),
            ..Default::default()
        };
        assert!(shared::ports::ControlStore::replace_control(&store, 0, &uncapped)
            .await
            .unwrap());
        let exchange = paper(1);
        let orch = orchestrator(&store, &exchange, &clock, ExecutionMode::Paper);
        let Outcome::Decided(d, alert, _) = orch.process(&huge.to_message()).await.unwrap() else {
            panic!("not decided");
        };
        assert_eq!(
            (d.decision_type, d.reason_code),
            (DecisionType::Skipped, ReasonCode::InvalidTradeAmount)
        );
        assert!(d.reason_message.contains("out of range"), "{}", d.reason_message);
        assert!(alert.is_none());
        assert_eq!(store.intents()[0].status, IntentStatus::Skipped);
        assert_eq!(
            exchange.find_order(&huge.idempotency_key().client_oid()).await.unwrap(),
            shared::ports::Lookup::NotFound
        );
    }
}
