//! What one placed signal costs in DynamoDB requests, counted on the wire: the figures docs/PERFORMANCE.md's cost
//! model multiplies by prices. Pinned, so a change that adds a round trip to the warm path fails here and says which.

use std::collections::BTreeMap;

use crate::support;

use chrono::Utc;
use shared::adapters::dynamodb::DynamoStore;
use shared::ids::Side;
use shared::ports::SignalStore;
use tests::opcount::OpCounter;
use tests::TestEnv;

fn ops(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

/// A paper BUY through the orchestrator's handler as the Lambda runs it — claim, sizing record, paper order,
/// finalize, the ORDER PLACED message, the fill read right after and its ORDER EXECUTED message, the first
/// protection step (SL/TP placed) and its message, the circuit breaker's success — then its redelivery.
#[tokio::test]
async fn a_placed_paper_buy_costs_these_dynamodb_requests() {
    let env = TestEnv::new("costs").await;
    let counter = OpCounter::default();
    let store = DynamoStore::new(counter.client(&env.aws), env.p.tables.clone());
    let first = support::signal("ETH_BTC", Side::Buy, 1, Utc::now());
    let signal = support::signal("ETH_BTC", Side::Buy, 2, Utc::now());
    env.store().put_new(&first).await.unwrap();
    env.store().put_new(&signal).await.unwrap();
    let notifier = shared::fakes::MemoryNotifier::default();
    let alerts = &notifier as &dyn shared::ports::Notifier;
    let paper = support::paper(1);
    let clock = shared::fakes::ManualClock::new(Utc::now(), 0);
    let orch = support::orchestrator(&store, &paper, &clock, Default::default());
    // The first signal of a container also reads the control row (then cached): counted apart.
    let response = orchestrator::handler::handle(&orch, alerts, support::sqs_event(&first)).await;
    assert!(response.batch_item_failures.is_empty());
    eprintln!("first placed paper BUY of a container: {:?}", counter.counts());
    counter.reset();
    let response = orchestrator::handler::handle(&orch, alerts, support::sqs_event(&signal)).await;
    assert!(response.batch_item_failures.is_empty());
    let placed = counter.counts();
    eprintln!("placed paper BUY: {placed:?}");
    assert_eq!(
        placed,
        ops(tests::cost::PLACED_SIGNAL),
        "the warm path's requests changed: update tests/src/cost.rs and docs/PERFORMANCE.md's cost model"
    );
    counter.reset();
    let again = orchestrator::handler::handle(&orch, alerts, support::sqs_event(&signal)).await;
    assert!(again.batch_item_failures.is_empty());
    eprintln!("redelivered: {:?}", counter.counts());
}

/// An idle stack's schedule: one sweeper run and one evaluator run (10 symbols, no signal) over empty tables.
#[tokio::test]
async fn an_idle_schedule_costs_these_dynamodb_requests() {
    let env = TestEnv::new("costs-idle").await;
    let counter = OpCounter::default();
    let store = DynamoStore::new(counter.client(&env.aws), env.p.tables.clone());
    let (queue, notifier) = (
        shared::fakes::MemoryQueue::default(),
        shared::fakes::MemoryNotifier::default(),
    );
    let clock = shared::fakes::ManualClock::new(Utc::now(), 0);
    sweeper::handler::Sweeper::over(&store, &queue, &notifier, &clock)
        .run()
        .await
        .unwrap();
    let (emf, _) = sweeper::handler::Sweeper::over(&store, &queue, &notifier, &clock)
        .run()
        .await
        .unwrap();
    let sweep = counter.counts();
    eprintln!("idle sweeper runs (2): {sweep:?}");
    // An idle run's counts are all in its log line and none is a metric (none is billed).
    let run = evaluator::handler::RunSummary::default().emf("NS", 0);
    assert_eq!(
        shared::report::metrics::declared(&emf).len() + shared::report::metrics::declared(&run).len(),
        tests::cost::IDLE_METRICS,
        "{emf} {run}"
    );
    assert_eq!(
        (emf["SentSignals"].as_u64(), run["EvaluatorSignals"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        sweep,
        tests::cost::IDLE_SWEEP
            .iter()
            .map(|(k, n)| (k.to_string(), 2 * n))
            .collect(),
        "update tests/src/cost.rs and docs/PERFORMANCE.md's cost model"
    );
    counter.reset();
    let entries: Vec<_> = (0..10)
        .map(|i| shared::watchlist::WatchlistEntry::new(shared::ids::Symbol::parse(&format!("S{i}_USDT")).unwrap()))
        .collect();
    support::seed_watchlist(&env, &entries).await;
    let market = shared::adapters::replay::ReplayMarketData::embedded().unwrap();
    let evaluator = evaluator::handler::Evaluator {
        read_control: true,
        ..evaluator::handler::Evaluator::over(&store, &queue, &market, &clock, &notifier)
    };
    evaluator.run().await.unwrap();
    let evaluate = counter.counts();
    eprintln!("idle evaluator run: {evaluate:?}");
    assert_eq!(
        evaluate,
        ops(tests::cost::IDLE_EVALUATION),
        "update tests/src/cost.rs and docs/PERFORMANCE.md's cost model"
    );
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let resources = |kind: &str| template.matches(&format!("Type: {kind}\n")).count();
    assert_eq!(
        (
            resources("AWS::CloudWatch::Alarm"),
            resources("AWS::CloudWatch::Dashboard"),
            resources("AWS::SecretsManager::Secret"),
            resources("AWS::KMS::Key")
        ),
        (
            tests::cost::ALARMS,
            tests::cost::DASHBOARDS,
            tests::cost::SECRETS,
            tests::cost::KMS_KEYS
        ),
        "the template's billed resources changed: update tests/src/cost.rs"
    );
}
