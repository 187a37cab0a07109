//! The pipeline on the real SDK paths with a fifth of its DynamoDB calls failing and a fifth of its enqueued
//! messages refused (`tests::faults`): replayed candles for the whole shipped watchlist → evaluator → SQS →
//! three orchestrator containers polling at once → sweeper, with duplicate deliveries on top. The functions' own
//! SDK configuration (`shared::adapters::aws`) does the retrying. Ends with every sent signal decided, no
//! client_oid sent twice and a passing report — read through a second, fault-free client, as an operator would.
//!
//! `FAULT_SEED=k` picks the fault stream (default 7); the counts are printed (`--nocapture`).

use crate::support;
use shared::ports::{Clock, IntentStore, SignalQueue, SignalStore, Stores};

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::replay::ReplayMarketData;
use shared::adapters::sqs::SqsQueue;
use shared::fakes::{ManualClock, MemoryNotifier};
use shared::flow::orchestration::{Orchestrator, OrchestratorSettings};
use shared::market::candles::Timeframe;
use shared::order::ExecutionMode;
use shared::report::invariants::{self, Report, ReportQuery};
use shared::risk::ControlCache;
use tests::faults::{FaultPlan, FaultProxy};
use tests::{esm, TestEnv};

const LEASE_MS: i64 = 20_000;
/// Wall time the test clock moves per replay step: leases of lost claims run out within a few steps.
const STEP_MS: i64 = 5_000;

fn seed() -> u64 {
    std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
}

async fn report(store: &DynamoStore, clock: &ManualClock) -> Report {
    invariants::collect(
        Stores::of(store),
        &ReportQuery::default(),
        clock.now(),
        Duration::seconds(120),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fifth_of_dynamodb_and_sqs_calls_failing_loses_nothing_and_doubles_nothing() {
    // Visibility 1 s so a retried delivery comes back within the test; receives never reach the DLQ.
    let env = TestEnv::with_queue("faults", Some((1, 1_000))).await;
    let upstream = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let plan = FaultPlan {
        dynamodb: 0.2,
        lost_reply: 0.25,
        sqs_entries: 0.2,
        seed: seed(),
    };
    let proxy = FaultProxy::start(&upstream, plan).await.unwrap();
    let faulty = shared::adapters::aws::with_local_defaults(shared::adapters::aws::loader().endpoint_url(&proxy.url));
    let faulty = faulty.load().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&faulty), env.p.tables.clone());
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&faulty), env.p.queue_url.clone());
    // The operator's view and Lambda's event source mapping: not our code, not faulted.
    let truth = env.store();
    let sqs = env.sqs();

    // The shipped watchlist without the repeat throttle: every signal the strategy gives is sent (more load).
    support::seed_shipped_watchlist(&env, |e| {
        e.cooldown_minutes = Some(0.0);
        e.min_price_change_pct = Some(0.0);
    })
    .await;
    let market = ReplayMarketData::embedded().unwrap();
    let clock = ManualClock::new(Utc::now(), 0);
    let signal_alerts = MemoryNotifier::default();
    let ev = support::evaluator(&store, &queue, &market, &clock, &signal_alerts);
    let exchange = support::CountingExchange::new(support::paper(1));
    let settings = OrchestratorSettings {
        mode: ExecutionMode::Paper,
        lease_ms: LEASE_MS,
        settle_ms: 8_000,
        ..Default::default()
    };
    let caches = [
        ControlCache::default(),
        ControlCache::default(),
        ControlCache::default(),
    ];
    let containers: Vec<Orchestrator> = caches
        .iter()
        .map(|guard| Orchestrator {
            stores: Stores::of(&store),
            guard,
            exchange: &exchange,
            clock: &clock,
            settings,
        })
        .collect();
    let failure_notifier = MemoryNotifier::default();
    let alerts = &failure_notifier as &dyn shared::ports::Notifier;
    let drain_all = || async {
        let polls = containers.iter().map(|o| esm::drain(&sqs, &env.p.queue_url, o, alerts));
        let mut total = esm::DrainStats::default();
        for s in futures::future::join_all(polls).await {
            let s = s.expect("the event source mapping's own calls are not faulted");
            total.received += s.received;
            total.deleted += s.deleted;
            total.failed += s.failed;
        }
        total
    };

    let (mut sent, mut run_errors, mut deliveries, mut retried) = (0, 0, 0, 0);
    let steps = market.close_times(Timeframe::H1);
    for t in &steps {
        clock.set_market_ms(*t);
        clock.advance_ms(STEP_MS);
        match ev.run().await {
            Ok(summary) => {
                sent += summary.signals;
                run_errors += summary.errors;
            }
            Err(_) => run_errors += 1,
        }
        let d = drain_all().await;
        deliveries += d.received;
        retried += d.failed;
    }

    // Every delivered signal delivered four more times, as a storm of duplicates would. (Only those already
    // claimed: the ones whose enqueue was refused are left for the sweeper to find.)
    let recorded = truth
        .created_between(Utc::now() - Duration::hours(1), clock.now() + Duration::hours(1))
        .await
        .unwrap();
    let messages: Vec<_> = recorded.iter().filter(|s| !s.blocked).map(|s| s.to_message()).collect();
    let keys: Vec<_> = recorded.iter().map(|s| s.idempotency_key()).collect();
    let claimed: std::collections::HashSet<_> = IntentStore::get_many(&truth, &keys)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.signal_id)
        .collect();
    let duplicates: Vec<_> = messages
        .iter()
        .filter(|m| claimed.contains(&m.signal_id))
        .cloned()
        .collect();
    let direct = SqsQueue::new(sqs.clone(), env.p.queue_url.clone());
    for _ in 0..4 {
        assert!(direct.send(&duplicates).await.unwrap().is_empty());
    }

    // Then what production does: the queue redelivers, the sweeper runs on its schedule (itself under faults).
    let sweeper_notifier = MemoryNotifier::default();
    // With the exchange, as deployed: it also follows fills and steps every protection (docs/DESIGN.md §14).
    let sweeper = sweeper::handler::Sweeper {
        exchange: Some(&exchange),
        ..support::sweeper(&store, &queue, &sweeper_notifier, &clock)
    };
    let mut rounds = 0;
    let final_report = loop {
        rounds += 1;
        let d = drain_all().await;
        deliveries += d.received;
        retried += d.failed;
        clock.advance_ms(LEASE_MS);
        let swept = sweeper.run().await.is_ok();
        tokio::time::sleep(StdDuration::from_millis(1_100)).await;
        let r = report(&truth, &clock).await;
        let decided = r.signals.iter().all(|s| s.blocked || s.decision_type.is_some());
        if (r.pass && decided && swept && d.received == 0) || rounds == 40 {
            break r;
        }
    };

    let counts = proxy.counts();
    let faults: Vec<_> = counts.iter().filter(|(k, _)| k.starts_with("fault.")).collect();
    println!(
        "faults (seed {}): {} DynamoDB calls, {} SendMessageBatch calls; injected {faults:?}",
        plan.seed,
        proxy.total("dynamodb."),
        proxy.total("sqs.SendMessageBatch"),
    );
    println!(
        "pipeline: {} steps, {} signals sent (+{} held back), {deliveries} deliveries ({retried} told to retry), {} evaluator errors, {rounds} settle rounds, {} create-orders, {} placed, report pass={}",
        steps.len(),
        messages.len(),
        recorded.len() - messages.len(),
        run_errors,
        exchange.creates(),
        final_report.counts.placed,
        final_report.pass
    );

    assert!(messages.len() >= 10, "the replay produced signals: {sent}");
    for kind in [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "InternalServerError",
        "LostReply",
    ] {
        assert!(
            counts.get(&format!("fault.dynamodb.{kind}")).copied().unwrap_or(0) > 0,
            "{kind} was injected: {faults:?}"
        );
    }
    assert!(proxy.total("fault.sqs.") > 0, "SendMessageBatch entries were refused");
    assert!(final_report.pass, "violations: {:?}", final_report.violations);
    assert_eq!(
        final_report.total,
        messages.len(),
        "the report covers every sent signal"
    );
    assert!(
        final_report
            .signals
            .iter()
            .all(|s| s.blocked || s.decision_type.is_some()),
        "every sent signal is decided"
    );
    assert_eq!(
        exchange.resent(),
        Vec::<(String, usize)>::new(),
        "no client_oid sent twice"
    );
    assert!(
        exchange.creates() >= final_report.counts.placed,
        "every placed order went through the exchange"
    );
    let alerted = signal_alerts.sent().len() + sweeper_notifier.sent().len();
    assert!(
        alerted >= messages.len(),
        "every sent signal was alerted ({alerted} alerts)"
    );
}
