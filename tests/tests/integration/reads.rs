//! The diagnostics and sweeper reads scale with the window, not the table: a few Query calls on the `by_day` index
//! (one per day of the window) and BatchGetItem calls of up to 100 keys — never a Scan. Counted on the wire.

use crate::support;
use shared::ports::{IntentStore, SignalStore, Stores};

use chrono::{Duration, Utc};
use shared::adapters::dynamodb::DynamoStore;
use shared::ids::Side;
use shared::order::IntentStatus;
use shared::report::invariants::{self, ReportQuery};
use tests::opcount::OpCounter;
use tests::TestEnv;

#[tokio::test]
async fn the_report_is_queries_and_batch_gets_only() {
    let env = TestEnv::new("reads").await;
    let store = env.store();
    let now = Utc::now();
    // 250 sent signals over the last 3 days (every one with an intent, a few failed), plus one 10 days old.
    for i in 0..250i64 {
        let s = support::signal(
            "ETH_BTC",
            if i % 2 == 0 { Side::Buy } else { Side::Sell },
            i,
            now - Duration::minutes(17 * i + 5),
        );
        store.put_new(&s).await.unwrap();
        let status = if i % 50 == 0 {
            IntentStatus::OrderFailed
        } else {
            IntentStatus::OrderPlaced
        };
        store
            .claim(shared::ports::ClaimRequest::plain(
                &support::intent(&s, status, now, s.created_at),
                &s.to_message(),
            ))
            .await
            .unwrap();
    }
    store
        .put_new(&support::signal("ETH_BTC", Side::Buy, 999, now - Duration::days(10)))
        .await
        .unwrap();

    let counter = OpCounter::default();
    let counted = DynamoStore::new(counter.client(&env.aws), env.p.tables.clone());
    let q = ReportQuery {
        hours: 168,
        limit: Some(1000),
        side: None,
    };
    let report = invariants::collect(Stores::of(&counted), &q, now, Duration::seconds(120))
        .await
        .unwrap();
    assert_eq!(report.total, 250);
    assert_eq!(report.counts.failed, 5);
    let ops = counter.counts();
    assert_eq!(ops.get("Scan"), None, "{ops:?}");
    assert_eq!(
        ops.keys().map(String::as_str).collect::<Vec<_>>(),
        ["BatchGetItem", "Query"],
        "{ops:?}"
    );
    assert_eq!(
        ops["Query"],
        8 + 8,
        "fewer signals than the limit: every UTC day of the 168-hour window, once for signals and once for \
         intents (orphans): {ops:?}"
    );
    assert_eq!(
        ops["BatchGetItem"],
        3 + 3,
        "250 intents in 3 calls of ≤100 keys, and the 250 outbox rows they imply (5 ORDER FAILED, 245 ORDER PLACED) \
         in 3: {ops:?}"
    );

    // A limit the newest days satisfy stops the reading there: at most today and yesterday for 50 signals (one
    // every 17 minutes), not all 8 days.
    counter.reset();
    let few = ReportQuery {
        hours: 168,
        limit: Some(50),
        side: None,
    };
    let report = invariants::collect(Stores::of(&counted), &few, now, Duration::seconds(120))
        .await
        .unwrap();
    assert_eq!(report.total, 50);
    let queries = counter.counts()["Query"];
    assert!(
        (2..=4).contains(&queries),
        "{queries} queries for 50 signals: one or two days of signals, the same days of intents"
    );

    // The sweeper reads the same way.
    counter.reset();
    let (queue, notifier) = (
        shared::fakes::MemoryQueue::default(),
        shared::fakes::MemoryNotifier::default(),
    );
    let clock = shared::fakes::ManualClock::new(now, 0);
    let sweeper = sweeper::handler::Sweeper::over(&counted, &queue, &notifier, &clock);
    sweeper.run().await.unwrap();
    let ops = counter.counts();
    assert!(
        ops.keys()
            .all(|k| k == "Query" || k == "BatchGetItem" || k == "UpdateItem" || k == "GetItem"),
        "{ops:?}"
    );
    assert_eq!(ops.get("Scan"), None);

    // And so does the evaluator: the watchlist through its `by_list` index, never a Scan.
    counter.reset();
    let entry = shared::watchlist::WatchlistEntry::new(shared::ids::Symbol::parse("ETH_BTC").unwrap());
    tests::provision::seed_watchlist(
        &aws_sdk_dynamodb::Client::new(&env.aws),
        &env.p.tables.watchlist,
        &[entry],
    )
    .await
    .unwrap();
    let market = shared::adapters::replay::ReplayMarketData::embedded().unwrap();
    let times = market.close_times(shared::market::candles::Timeframe::H1);
    let evaluator = evaluator::handler::Evaluator {
        concurrency: 4,
        ..evaluator::handler::Evaluator::over(&counted, &queue, &market, &clock, &notifier)
    };
    let mut listed = 0;
    for t in times.into_iter().take(150) {
        clock.set_market_ms(t);
        listed += evaluator.run().await.unwrap().symbols;
    }
    assert_eq!(listed, 150, "the seeded symbol is listed on every run");
    let ops = counter.counts();
    assert_eq!(ops.get("Scan"), None, "{ops:?}");
    assert_eq!(
        ops.get("Query"),
        Some(&150),
        "one query per run lists the watchlist: {ops:?}"
    );
}
