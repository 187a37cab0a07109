//! The signals queue as Lambda uses it: a malformed message — or one its signal row does not back (missing,
//! different, from the future) — is reported as a batch item failure on every delivery and lands in the DLQ after
//! maxReceiveCount without an order or a write, while the good messages of the same batch are processed.

use crate::support;

use chrono::Utc;
use rust_decimal::Decimal;
use shared::fakes::ManualClock;
use shared::flow::orchestration::OrchestratorSettings;
use shared::ids::Side;
use shared::order::ExecutionMode;
use shared::ports::{IntentStore, SignalStore};
use tests::{esm, TestEnv};

#[tokio::test]
async fn malformed_messages_reach_the_dlq_and_the_rest_of_the_batch_proceeds() {
    // Visibility 1 s and maxReceiveCount 2 so that redrive happens within the test.
    let env = TestEnv::with_queue("dlq", Some((1, 2))).await;
    let store = env.store();
    let sqs = env.sqs();
    let s = support::signal("ETH_BTC", Side::Buy, 42, Utc::now());
    store.put_new(&s).await.unwrap();
    let missing = support::signal("ETH_BTC", Side::Buy, 43, Utc::now())
        .to_message()
        .to_json();
    let mut bigger = support::message(&s);
    bigger.trade_amount_usd = Decimal::from(1_000_000);
    let mut future = support::message(&s);
    future.emitted_at = Utc::now() + chrono::Duration::hours(1);
    let mut overflowing = support::message(&s);
    overflowing.trade_amount_usd = Decimal::MAX;
    overflowing.price = Decimal::new(1, 28);
    let refused = [
        "{\"version\": 9}".to_string(),
        "garbage".to_string(),
        missing,
        bigger.to_json(),
        future.to_json(),
        overflowing.to_json(),
    ];
    for body in std::iter::once(support::message(&s).to_json()).chain(refused.iter().cloned()) {
        sqs.send_message()
            .queue_url(&env.p.queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let exchange = support::CountingExchange::new(support::paper(1));
    let clock = ManualClock::new(Utc::now(), 0);
    let orch = support::orchestrator(
        &store,
        &exchange,
        &clock,
        OrchestratorSettings {
            mode: ExecutionMode::Paper,
            ..Default::default()
        },
    );
    let notifier = shared::fakes::MemoryNotifier::default();
    let alerts = &notifier as &dyn shared::ports::Notifier;

    let mut deleted = 0;
    let mut failed = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut in_dlq = Vec::new();
    while std::time::Instant::now() < deadline {
        let d = esm::drain(&sqs, &env.p.queue_url, &orch, alerts).await.unwrap();
        deleted += d.deleted;
        failed += d.failed;
        let dlq = sqs
            .receive_message()
            .queue_url(&env.p.dlq_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for m in dlq.messages.unwrap_or_default() {
            in_dlq.push(m.body.unwrap_or_default());
            sqs.delete_message()
                .queue_url(&env.p.dlq_url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await
                .unwrap();
        }
        if in_dlq.len() == refused.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    in_dlq.sort();
    let mut expected = refused.to_vec();
    expected.sort();
    assert_eq!(in_dlq, expected, "every refused message was redriven to the DLQ");
    assert_eq!(deleted, 1, "the good message was processed once and deleted");
    assert!(
        failed >= 2 * refused.len(),
        "each refused message failed on each of its 2 receives (got {failed})"
    );
    assert_eq!(exchange.creates(), 1, "one order: the good message's");
    assert_eq!(store.get_many(&[s.idempotency_key()]).await.unwrap().len(), 1);
    let decided = store
        .created_between(Utc::now() - chrono::Duration::hours(1), Utc::now())
        .await
        .unwrap();
    assert!(decided[0].decision.is_some());
}
