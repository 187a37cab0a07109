//! Each violation of the invariants report, produced deliberately in the emulator, then repaired by the sweeper
//! (re-driven through the queue to the orchestrator, or the ORDER FAILED / ORDER PLACED message re-sent); the EMF
//! line carries the report's counts.

use crate::support;
use shared::ports::{AlertStore, IntentStore, SignalStore, Stores};

use chrono::{Duration, Utc};
use shared::adapters::sqs::SqsQueue;
use shared::decision::{DecisionType, ReasonCode};
use shared::fakes::{ManualClock, MemoryNotifier};
use shared::flow::orchestration::OrchestratorSettings;
use shared::ids::Side;
use shared::order::{ExecutionMode, IntentStatus};
use shared::outbox::AlertStatus;
use shared::report::invariants::{self, ReportQuery, ViolationType};
use tests::{esm, TestEnv};

#[tokio::test]
async fn every_violation_is_reported_and_the_repairable_ones_are_repaired() {
    let env = TestEnv::new("sweeper").await;
    let store = env.store();
    let sqs = env.sqs();
    let queue = SqsQueue::new(sqs.clone(), env.p.queue_url.clone());
    let now = Utc::now();
    let ago = now - Duration::minutes(15);
    // Messages count as undelivered after 10 minutes here, so the 15-minute-old ones are, beyond doubt.
    let grace = invariants::Patience {
        undelivered_after: Duration::minutes(10),
        ..Duration::seconds(120).into()
    };

    // S1 sent, never reached the orchestrator. S2 blocked at the claim, crashed before its decision. S3 claimed,
    // crashed before sending; lease long gone. S4 failed, Telegram down. S5 young. S6 healthy.
    let s: Vec<_> = (1..=6)
        .map(|i| {
            support::signal(
                "ETH_BTC",
                Side::Buy,
                i,
                if i == 5 { now - Duration::seconds(30) } else { ago },
            )
        })
        .collect();
    for x in &s {
        SignalStore::put_new(&store, x).await.unwrap();
    }
    store
        .claim(shared::ports::ClaimRequest::plain(
            &support::intent(&s[1], IntentStatus::BlockedLiveTrading, ago, ago),
            &s[1].to_message(),
        ))
        .await
        .unwrap();
    store
        .claim(shared::ports::ClaimRequest::plain(
            &support::intent(&s[2], IntentStatus::Pending, ago + Duration::seconds(60), ago),
            &s[2].to_message(),
        ))
        .await
        .unwrap();
    let past = ManualClock::new(ago, 0);
    let notifier = MemoryNotifier::default();
    let alerts = &notifier as &dyn shared::ports::Notifier;
    notifier.set_failing(true);
    let refusing = support::paper(1_000);
    let failing = support::orchestrator(&store, &refusing, &past, OrchestratorSettings::default());
    let d = failing.process(&support::message(&s[3])).await.unwrap();
    let shared::flow::orchestration::Outcome::Decided(_, Some(alert), _) = d else {
        panic!("{d:?}")
    };
    shared::flow::deliver::deliver(&store, &notifier, &past, &alert)
        .await
        .unwrap();
    let exchange = support::paper(1);
    let working = support::orchestrator(&store, &exchange, &past, OrchestratorSettings::default());
    // Placed; its ORDER PLACED confirmation is written to the outbox but never delivered (the worker died first).
    working.process(&support::message(&s[5])).await.unwrap();

    let q = ReportQuery::default();
    let before = invariants::collect(Stores::of(&store), &q, now, grace).await.unwrap();
    let of = |i: usize| {
        before
            .signals
            .iter()
            .find(|v| v.signal_id == s[i].signal_id.to_string())
            .unwrap()
            .violations
            .clone()
    };
    assert_eq!(of(0), [ViolationType::MissingIntent, ViolationType::NullDecision]);
    assert_eq!(of(1), [ViolationType::NullDecision]);
    assert_eq!(of(2), [ViolationType::NonTerminalIntent, ViolationType::NullDecision]);
    assert_eq!(of(3), [ViolationType::FailedWithoutTelegram]);
    assert!(of(4).is_empty(), "a young signal is fine");
    // Placed fifteen minutes ago and never read back from the exchange (the worker died before the fill was read),
    // nor was its ORDER PLACED confirmation delivered.
    assert_eq!(
        of(5),
        [ViolationType::UnconfirmedOrder, ViolationType::UndeliveredMessage]
    );
    assert_eq!(before.counts.in_flight, 1);
    assert!(!before.pass);

    // The sweeper: metrics as found, then repairs.
    notifier.set_failing(false);
    let clock = ManualClock::new(now, 0);
    let sweeper = sweeper::handler::Sweeper {
        patience: grace,
        exchange: Some(&exchange),
        ..sweeper::handler::Sweeper::over(&store, &queue, &notifier, &clock)
    };
    let (emf, summary) = sweeper.run().await.unwrap();
    let emf: serde_json::Value = serde_json::from_str(&emf.to_string()).unwrap();
    let c = &before.counts;
    for (metric, want) in [
        ("MissingIntent", c.missing_intent),
        ("NullDecisions", c.null_decisions),
        ("FailedWithoutTelegram", c.failed_without_telegram),
        ("NonTerminalIntent", c.non_terminal_intent),
        ("OrdersPlaced", c.placed),
        ("OrdersFailed", c.failed),
        ("InFlight", c.in_flight),
        ("SentSignals", c.sent_signals),
        ("UnconfirmedOrders", c.unconfirmed_orders),
        ("UndeliveredMessages", c.undelivered_messages),
    ] {
        assert_eq!(emf[metric].as_u64(), Some(want as u64), "{metric}");
        assert_eq!(
            shared::report::metrics::declared(&emf).contains(&metric),
            want > 0,
            "{metric} is a metric when it is not zero, and only then"
        );
    }
    assert_eq!(
        (summary.redriven, summary.alerts_resent),
        (3, 2),
        "three signals re-driven; the ORDER FAILED and the ORDER PLACED messages re-sent"
    );
    assert_eq!(
        (
            summary.fills.looked_up,
            summary.fills.recorded,
            summary.fills.executed_messages
        ),
        (1, 1, 1),
        "the unconfirmed order's fill read, recorded and messaged once"
    );
    assert!(notifier.sent()[2].contains("ORDER EXECUTED"), "{:?}", notifier.sent());

    // The queue's consumer (the orchestrator, through the event source mapping) finishes the re-driven signals.
    let orch = support::orchestrator(
        &store,
        &exchange,
        &clock,
        OrchestratorSettings {
            mode: ExecutionMode::Paper,
            ..Default::default()
        },
    );
    let drained = esm::drain(&sqs, &env.p.queue_url, &orch, alerts).await.unwrap();
    assert_eq!((drained.received, drained.deleted), (3, 3));

    let after = invariants::collect(Stores::of(&store), &q, now, grace).await.unwrap();
    assert!(after.pass, "{:?}", after.violations);
    let decision = |i: usize| {
        let v = after
            .signals
            .iter()
            .find(|v| v.signal_id == s[i].signal_id.to_string())
            .unwrap();
        (
            v.decision_type,
            v.reason_code,
            v.order_intent.as_ref().map(|i| i.status),
        )
    };
    assert_eq!(
        decision(0),
        (
            Some(DecisionType::Executed),
            Some(ReasonCode::ExecOrderPlaced),
            Some(IntentStatus::OrderPlaced)
        )
    );
    assert_eq!(decision(1).1, Some(ReasonCode::OrderBlockedLiveTrading));
    assert_eq!(
        decision(2).2,
        Some(IntentStatus::OrderPlaced),
        "taken over, looked up, resent after the settle window"
    );
    let alert = AlertStore::get_many(&store, std::slice::from_ref(&alert.alert_id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(alert.status, AlertStatus::Sent);
    assert!(notifier.sent()[0].contains("ORDER FAILED"));
    assert!(notifier.sent()[1].contains("ORDER PLACED"), "{:?}", notifier.sent());

    let (_, quiet) = sweeper.run().await.unwrap();
    assert_eq!((quiet.redriven, quiet.alerts_resent, quiet.pass), (0, 0, true));
    assert_eq!(
        (quiet.fills.recorded, quiet.fills.executed_messages),
        (0, 0),
        "each fill recorded once"
    );
}

/// An ORDER SKIPPED message Telegram refused stays PENDING in the outbox: past UNDELIVERED_AFTER_MINUTES the report
/// counts it (UNDELIVERED_MESSAGE), the sweeper delivers it once, and the count falls back to zero.
#[tokio::test]
async fn an_undelivered_order_skipped_message_is_counted_then_delivered_once_by_the_sweeper() {
    let env = TestEnv::new("undelivered").await;
    let store = env.store();
    let queue = SqsQueue::new(env.sqs(), env.p.queue_url.clone());
    let now = Utc::now();
    let ago = now - Duration::minutes(20);
    // A SELL with nothing held: SKIPPED / SELL_REQUIRES_POSITION, whose ORDER SKIPPED send fails.
    let sell = support::signal("ETH_BTC", Side::Sell, 7, ago);
    SignalStore::put_new(&store, &sell).await.unwrap();
    let notifier = MemoryNotifier::default();
    notifier.set_failing(true);
    let past = ManualClock::new(ago, 0);
    let exchange = support::paper(1);
    let orch = support::orchestrator(&store, &exchange, &past, OrchestratorSettings::default());
    let alerts = &notifier as &dyn shared::ports::Notifier;
    orchestrator::handler::handle(&orch, alerts, support::sqs_event(&sell)).await;
    let skipped = shared::outbox::AlertRecord::skipped_id(&sell.idempotency_key());
    let row = AlertStore::get_many(&store, std::slice::from_ref(&skipped))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (row.status, row.attempts),
        (AlertStatus::Pending, 1),
        "tried once, refused"
    );

    let q = ReportQuery::default();
    let grace = Duration::seconds(120);
    let before = invariants::collect(Stores::of(&store), &q, now, grace).await.unwrap();
    assert_eq!(before.counts.undelivered_messages, 1, "{:?}", before.violations);
    assert!(before
        .violations
        .iter()
        .any(|v| v.violation == ViolationType::UndeliveredMessage && v.details["alert_id"] == skipped.as_str()));
    assert!(!before.pass);
    // Younger than the threshold, the same row is not (yet) a violation.
    let early = invariants::collect(Stores::of(&store), &q, ago + Duration::minutes(5), grace)
        .await
        .unwrap();
    assert_eq!(early.counts.undelivered_messages, 0);

    notifier.set_failing(false);
    let clock = ManualClock::new(now, 0);
    let sweeper = support::sweeper(&store, &queue, &notifier, &clock);
    let (emf, first) = sweeper.run().await.unwrap();
    assert_eq!(emf["UndeliveredMessages"], 1, "published as found");
    assert_eq!(first.alerts_resent, 1);
    sweeper.run().await.unwrap();
    let skipped_sent = notifier.sent().iter().filter(|t| t.contains("ORDER SKIPPED")).count();
    assert_eq!(skipped_sent, 1, "delivered once");
    let after = invariants::collect(Stores::of(&store), &q, now, grace).await.unwrap();
    assert_eq!(after.counts.undelivered_messages, 0);
    assert!(after.pass, "{:?}", after.violations);
}
