//! The risk guard and the kill switch against the emulator (docs/DESIGN.md §11): a global daily cap holding exactly
//! under fifty concurrent deliveries of distinct signals, a halt taking effect at the next claim of a container that
//! cached the control row before it, and the circuit breaker tripping on account failures and resuming.

use crate::support;
use shared::ports::Stores;

use async_trait::async_trait;
use chrono::Utc;
use futures::future::join_all;
use shared::adapters::clock::SystemClock;
use shared::decision::{DecisionType, ReasonCode};
use shared::fakes::MemoryNotifier;
use shared::flow::orchestration::{Orchestrator, OrchestratorSettings, Outcome};
use shared::flow::trading;
use shared::ids::{ClientOid, Side};
use shared::money::UsdPrice;
use shared::order::ExecutionMode;
use shared::outbox::AlertKind;
use shared::ports::{
    AlertStore, ControlStore, Exchange, ExchangeError, IntentStore, Lookup, OrderAck, OrderRequest, SignalStore,
};
use shared::risk::{self, ControlCache, RiskLimits};
use shared::signal::SignalRecord;
use tests::TestEnv;

const T0: i64 = 1_700_000_000_000;

fn settings() -> OrchestratorSettings {
    OrchestratorSettings {
        mode: ExecutionMode::Paper,
        ..Default::default()
    }
}

/// `n` distinct BUY signals of BTC_USDT (one per minute of candles), stored as the evaluator would.
async fn signals(store: &dyn SignalStore, n: i64, from: i64) -> Vec<SignalRecord> {
    let mut out = Vec::new();
    for i in 0..n {
        let s = support::signal("BTC_USDT", Side::Buy, T0 + (from + i) * 60_000, Utc::now());
        store.put_new(&s).await.unwrap();
        out.push(s);
    }
    out
}

/// An orchestrator over the emulator's tables, as one container with its own cached control row.
fn orchestrator<'a>(
    store: &'a shared::adapters::dynamodb::DynamoStore,
    guard: &'a ControlCache,
    exchange: &'a dyn Exchange,
) -> Orchestrator<'a> {
    Orchestrator {
        stores: Stores::of(store),
        guard,
        exchange,
        clock: &SystemClock,
        settings: settings(),
    }
}

fn decided(outcome: &Outcome) -> (DecisionType, ReasonCode) {
    match outcome {
        Outcome::Decided(d, ..) => (d.decision_type, d.reason_code),
        other => panic!("not decided: {other:?}"),
    }
}

#[tokio::test]
async fn a_global_cap_of_seven_orders_holds_exactly_under_fifty_concurrent_deliveries() {
    let env = TestEnv::new("riskcap").await;
    let store = env.store();
    let cap = RiskLimits {
        max_orders_per_day: Some(7),
        ..Default::default()
    };
    trading::set_limits(&store, &cap, None).await.unwrap();
    let signals = signals(&store, 50, 0).await;
    let exchange = support::CountingExchange::new(support::paper(1));
    // Five containers, each with its own cached control row, as five concurrent Lambdas would be.
    let guards: Vec<ControlCache> = (0..5).map(|_| ControlCache::default()).collect();
    let orchestrators: Vec<Orchestrator> = guards
        .iter()
        .map(|guard| orchestrator(&store, guard, &exchange))
        .collect();
    let messages: Vec<_> = signals.iter().map(SignalRecord::to_message).collect();
    let outcomes = join_all(
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| orchestrators[i % orchestrators.len()].process(m)),
    )
    .await;
    let decisions: Vec<_> = outcomes.iter().map(|o| decided(o.as_ref().unwrap())).collect();
    let placed = decisions
        .iter()
        .filter(|d| **d == (DecisionType::Executed, ReasonCode::ExecOrderPlaced))
        .count();
    let held = decisions
        .iter()
        .filter(|d| **d == (DecisionType::Skipped, ReasonCode::RiskLimitExceeded))
        .count();
    assert_eq!(
        (placed, held),
        (7, 43),
        "exactly the cap, every other signal decided: {decisions:?}"
    );
    assert_eq!(exchange.creates(), 7, "orders that reached the exchange");
    let day = risk::global_day_key(&shared::time::day_of(Utc::now()));
    assert_eq!(store.usage(&day).await.unwrap().orders, 7);

    // Every held-back signal has its decision on the row and its ORDER SKIPPED message in the outbox.
    let ids: Vec<_> = signals.iter().map(|s| s.signal_id.clone()).collect();
    let rows = store.get_signals(&ids).await.unwrap();
    assert!(
        rows.iter().all(|r| r.decision.is_some()),
        "no signal without a decision"
    );
    let skipped_ids: Vec<String> = signals
        .iter()
        .map(|s| shared::outbox::AlertRecord::skipped_id(&s.idempotency_key()))
        .collect();
    let rows = AlertStore::get_many(&store, &skipped_ids).await.unwrap();
    assert_eq!(rows.len(), 43);
    assert!(rows
        .iter()
        .all(|a| a.kind == AlertKind::OrderSkipped && a.text.contains("global daily order limit 7 reached")));

    // A redelivery of any of them changes nothing.
    let again = join_all(messages.iter().map(|m| orchestrators[0].process(m))).await;
    assert_eq!(
        again.iter().map(|o| decided(o.as_ref().unwrap())).collect::<Vec<_>>(),
        decisions
    );
    assert_eq!(exchange.creates(), 7);
}

#[tokio::test]
async fn a_halt_takes_effect_at_the_next_claim_of_a_container_that_cached_the_control_row() {
    let env = TestEnv::new("riskhalt").await;
    let store = env.store();
    let s = signals(&store, 3, 100).await;
    let exchange = support::paper(1);
    let guard = ControlCache::default();
    let orch = orchestrator(&store, &guard, &exchange);
    let first = orch.process(&s[0].to_message()).await.unwrap();
    assert_eq!(decided(&first).1, ReasonCode::ExecOrderPlaced);
    assert_eq!(guard.get().unwrap().version, 0, "the container cached the control row");

    trading::halt(&store, "exchange maintenance", "ops", Utc::now())
        .await
        .unwrap();
    let second = orch.process(&s[1].to_message()).await.unwrap();
    assert_eq!(decided(&second), (DecisionType::Skipped, ReasonCode::TradingHalted));
    // The signal was alerted as tradable: its skip by the halt is told once, through the outbox row the claim wrote.
    let Outcome::Decided(_, Some(alert), _) = &second else {
        panic!("an ORDER SKIPPED message: {second:?}")
    };
    assert!(
        alert.text.contains("ORDER SKIPPED")
            && alert.text.contains("Trading halted")
            && alert.text.contains("exchange maintenance"),
        "{}",
        alert.text
    );
    let rows = shared::ports::AlertStore::get_many(&store, std::slice::from_ref(&alert.alert_id))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "written with the decision");
    let again = orch.process(&s[1].to_message()).await.unwrap();
    assert!(
        matches!(&again, Outcome::Decided(_, None, _)),
        "a redelivery decides nothing new and sends nothing: {again:?}"
    );
    let intent = IntentStore::get_many(&store, &[s[1].idempotency_key()])
        .await
        .unwrap()
        .remove(0);
    assert!(intent.error_message.unwrap().contains("exchange maintenance"));
    assert!(intent.reserved.is_empty(), "a halted signal reserves nothing");

    trading::resume(&store).await.unwrap();
    let third = orch.process(&s[2].to_message()).await.unwrap();
    assert_eq!(decided(&third).1, ReasonCode::ExecOrderPlaced);
}

/// The README's emergency halt — one `aws dynamodb update-item` on the control row, nothing to build — as the CLI
/// sends it: the next claim of a container that cached the control row is halted, and the row reads as a halt.
#[tokio::test]
async fn the_readmes_emergency_halt_by_the_aws_cli_stops_the_next_claim() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let env = TestEnv::new("riskcli").await;
    let store = env.store();
    let s = signals(&store, 2, 400).await;
    let exchange = support::paper(1);
    let guard = ControlCache::default();
    let orch = orchestrator(&store, &guard, &exchange);
    assert_eq!(
        decided(&orch.process(&s[0].to_message()).await.unwrap()).1,
        ReasonCode::ExecOrderPlaced
    );
    let readme = include_str!("../../../README.md");
    let expression = "SET trading_halted = :t, halt_reason = :r, halted_by = :b, halted_at = :at ADD version :one";
    assert!(
        readme.contains(expression),
        "the README's command is the one tested here"
    );
    aws_sdk_dynamodb::Client::new(&env.aws)
        .update_item()
        .table_name(&env.p.tables.risk)
        .key("pk", AttributeValue::S("control".into()))
        .update_expression(expression)
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .expression_attribute_values(":r", AttributeValue::S("emergency halt".into()))
        .expression_attribute_values(":b", AttributeValue::S("aws-cli".into()))
        .expression_attribute_values(":at", AttributeValue::S("2026-12-06T10:00:00Z".into()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        decided(&orch.process(&s[1].to_message()).await.unwrap()),
        (DecisionType::Skipped, ReasonCode::TradingHalted)
    );
    let control = store.control().await.unwrap();
    let halt = control.halt.expect("halted");
    assert_eq!((halt.by.as_str(), halt.reason.as_str()), ("aws-cli", "emergency halt"));
    assert_eq!(
        control.limits.max_notional_usd_per_day,
        Some(risk::DEFAULT_DAILY_NOTIONAL_USD),
        "the limits the command did not name keep their defaults"
    );
}

/// A symbol's limit changed on its watchlist row (as a deploy of the watchlist, or an operator's `update-item`, does)
/// after a container kept the symbol's limits: the claim's transaction finds the row changed, the claim is built
/// again from the row it returns, and the new limit holds at that very claim, with no read of its own.
#[tokio::test]
async fn a_symbol_limit_set_after_a_container_kept_the_symbols_limits_holds_at_the_next_claim() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let env = TestEnv::new("risksymbol").await;
    let store = env.store();
    let s = signals(&store, 3, 500).await;
    let exchange = support::paper(1);
    let guard = ControlCache::default();
    let orch = orchestrator(&store, &guard, &exchange);
    let first = orch.process(&s[0].to_message()).await.unwrap();
    assert_eq!(decided(&first).1, ReasonCode::ExecOrderPlaced);
    let symbol = &s[0].symbol;
    assert_eq!(
        guard.symbol_limits(symbol),
        Some(RiskLimits::default()),
        "kept by the container"
    );

    let set = |value: Option<&str>| {
        let update = aws_sdk_dynamodb::Client::new(&env.aws)
            .update_item()
            .table_name(&env.p.tables.watchlist)
            .key("symbol", AttributeValue::S(symbol.to_string()));
        match value {
            Some(v) => update
                .update_expression("SET max_order_usd = :m")
                .expression_attribute_values(":m", AttributeValue::N(v.into())),
            None => update.update_expression("REMOVE max_order_usd"),
        }
        .send()
    };
    set(Some("1")).await.unwrap();
    let second = orch.process(&s[1].to_message()).await.unwrap();
    assert_eq!(decided(&second), (DecisionType::Skipped, ReasonCode::RiskLimitExceeded));
    let Outcome::Decided(d, ..) = &second else {
        unreachable!()
    };
    assert!(
        d.reason_message.contains("symbol maximum order size 1 USD"),
        "{}",
        d.reason_message
    );
    assert_eq!(
        guard.symbol_limits(symbol).and_then(|l| l.max_order_usd),
        Some(rust_decimal::Decimal::ONE)
    );

    set(None).await.unwrap();
    let third = orch.process(&s[2].to_message()).await.unwrap();
    assert_eq!(
        decided(&third).1,
        ReasonCode::ExecOrderPlaced,
        "the limit lifted holds at once too"
    );
}

/// `trading limits set '{"max_orders_per_day": 3}'` against the table: only that setting changes, the breaker and
/// the daily cap stay as they were.
#[tokio::test]
async fn setting_one_limit_leaves_the_breaker_and_the_others_as_they_were() {
    let env = TestEnv::new("riskpatch").await;
    let store = env.store();
    let before = store.control().await.unwrap();
    let patch = serde_json::json!({ "max_orders_per_day": 3 });
    trading::patch_limits(&store, patch.as_object().unwrap()).await.unwrap();
    let after = store.control().await.unwrap();
    assert_eq!(after.limits.max_orders_per_day, Some(3));
    assert_eq!(after.breaker_failures, before.breaker_failures);
    assert_eq!(
        after.limits.max_notional_usd_per_day,
        before.limits.max_notional_usd_per_day
    );
    assert_eq!(after.version, before.version + 1);
}

/// An exchange whose account cannot trade: every order is refused with an authentication error.
struct LockedAccount;

#[async_trait]
impl Exchange for LockedAccount {
    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError> {
        support::paper(1).usd_price(currency).await
    }
    async fn place_order(&self, _req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        Err(ExchangeError::Rejected {
            code: ReasonCode::AuthenticationError,
            message: "API key revoked".into(),
            snippet: r#"{"code":40101,"message":"Authentication failure"}"#.into(),
        })
    }
    async fn find_order(&self, _oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        Ok(Lookup::NotFound)
    }
    async fn order_detail(
        &self,
        _order: &shared::order::PlacedOrder,
    ) -> Result<Option<shared::order::Reported>, ExchangeError> {
        Ok(None)
    }
    async fn open_orders(&self) -> Result<Vec<shared::order::OpenOrder>, ExchangeError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn the_circuit_breaker_halts_after_consecutive_account_failures_and_resumes() {
    let env = TestEnv::new("riskbreaker").await;
    let store = env.store();
    trading::set_limits(&store, &RiskLimits::default(), Some(2))
        .await
        .unwrap();
    let s = signals(&store, 4, 200).await;
    let notifier = MemoryNotifier::default();
    let alerts = &notifier as &dyn shared::ports::Notifier;
    let guard = ControlCache::default();
    let locked = LockedAccount;
    let orch = orchestrator(&store, &guard, &locked);
    for signal in &s[..2] {
        let response = orchestrator::handler::handle(&orch, alerts, support::sqs_event(signal)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "a definitive failure is a decision"
        );
    }
    let control = store.control().await.unwrap();
    let halt = control.halt.expect("tripped after two account failures");
    assert_eq!(halt.by, "circuit-breaker");
    assert!(
        halt.reason.contains("2 consecutive account failures"),
        "{}",
        halt.reason
    );
    let sent = notifier.sent();
    assert_eq!(sent.iter().filter(|m| m.contains("ORDER FAILED")).count(), 2);
    assert_eq!(
        sent.iter().filter(|m| m.contains("TRADING HALTED")).count(),
        1,
        "announced once"
    );
    // The failed orders released what they reserved.
    let day = risk::global_day_key(&shared::time::day_of(Utc::now()));
    assert_eq!(store.usage(&day).await.unwrap().orders, 0);

    // Halted: the next signal is not sent to the exchange at all.
    orchestrator::handler::handle(&orch, alerts, support::sqs_event(&s[2])).await;
    let third = store.get_signals(&[s[2].signal_id.clone()]).await.unwrap().remove(0);
    assert_eq!(third.decision.unwrap().reason_code, ReasonCode::TradingHalted);

    // Resumed, with a working account: orders flow again and the breaker's run starts from zero.
    trading::resume(&store).await.unwrap();
    assert_eq!(
        store.record_streak(true).await.unwrap(),
        1,
        "the run was reset by the resume"
    );
    store.record_streak(false).await.unwrap();
    let paper = support::paper(1);
    let working = Orchestrator {
        exchange: &paper,
        ..orch
    };
    orchestrator::handler::handle(&working, alerts, support::sqs_event(&s[3])).await;
    let fourth = store.get_signals(&[s[3].signal_id.clone()]).await.unwrap().remove(0);
    assert_eq!(fourth.decision.unwrap().reason_code, ReasonCode::ExecOrderPlaced);
    assert_eq!(store.usage(&day).await.unwrap().orders, 1);
}

#[tokio::test]
async fn a_halt_sent_as_a_telegram_command_stops_the_next_claim_and_other_chats_are_refused() {
    let env = TestEnv::new("riskbot").await;
    let store = env.store();
    let sink = support::Sink::start().await;
    let config = support::webhook_config(&env, &sink, Some("SignalBot"), None);
    // Built as the Lambda builds it: bot token, chat and webhook secret from Secrets Manager.
    let deps = telegram_webhook::wiring::Deps::new(&env.aws, config).await.unwrap();
    let webhook = deps.webhook();
    let post = |chat: i64, update_id: i64, text: &str| {
        let body = serde_json::json!({ "update_id": update_id, "message": { "message_id": 1, "date": 0,
            "chat": { "id": chat, "type": "group" }, "from": { "id": 7, "is_bot": false, "first_name": "O", "username": "ops" },
            "text": text } });
        lambda_http::http::Request::builder()
            .method("POST")
            .uri(telegram_webhook::handler::ROUTE)
            .header(
                telegram_webhook::handler::SECRET_HEADER,
                "local-webhook-secret-0123456789",
            )
            .body(lambda_http::Body::from(body.to_string()))
            .unwrap()
    };
    let s = signals(&store, 3, 300).await;
    let exchange = support::paper(1);
    let guard = ControlCache::default();
    let orch = orchestrator(&store, &guard, &exchange);

    // From another chat: refused, trading goes on.
    assert_eq!(webhook.handle(post(12345, 1, "/halt not yours")).await.status(), 200);
    assert!(store.control().await.unwrap().halt.is_none());
    assert_eq!(
        decided(&orch.process(&s[0].to_message()).await.unwrap()).1,
        ReasonCode::ExecOrderPlaced
    );

    // From the configured chat: the next claim is held back; the answer reaches the chat.
    assert_eq!(
        webhook
            .handle(post(-1_000_000_000_000, 2, "/halt@SignalBot rug pull"))
            .await
            .status(),
        200
    );
    assert_eq!(
        decided(&orch.process(&s[1].to_message()).await.unwrap()),
        (DecisionType::Skipped, ReasonCode::TradingHalted)
    );
    // Telegram's retry of the same update does nothing; /resume lets the next one through.
    assert_eq!(
        webhook
            .handle(post(-1_000_000_000_000, 2, "/halt@SignalBot rug pull"))
            .await
            .status(),
        200
    );
    // A resume addressed to another bot in the same group changes nothing.
    webhook.handle(post(-1_000_000_000_000, 4, "/resume@OtherBot")).await;
    assert!(store.control().await.unwrap().halt.is_some(), "still halted");
    webhook.handle(post(-1_000_000_000_000, 3, "/resume")).await;
    assert_eq!(
        decided(&orch.process(&s[2].to_message()).await.unwrap()).1,
        ReasonCode::ExecOrderPlaced
    );
    let texts = sink.texts().await;
    assert_eq!(
        texts.len(),
        2,
        "one answer per handled update, none for the other chat or the retry: {texts:?}"
    );
    assert!(texts[0].contains("Trading HALTED by @ops: rug pull"), "{texts:?}");
    assert!(texts[1].contains("RESUMED"), "{texts:?}");
}
