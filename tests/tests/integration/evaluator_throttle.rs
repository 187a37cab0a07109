//! The evaluator's throttle against the emulator: two overlapping runs over the same candle send one signal, and a
//! run that claimed an emission but died before recording the signal is finished by the next run.

use chrono::Utc;
use evaluator::handler::RunSummary;
use shared::adapters::replay::ReplayMarketData;
use shared::fakes::{ManualClock, MemoryNotifier, MemoryQueue, MemoryStore};
use shared::ids::Symbol;
use shared::market::candles::Timeframe;
use shared::market::strategy::Emission;
use shared::ports::{SignalStore, Store, Stores, WatchlistStore};
use shared::signal::SignalMessage;
use shared::watchlist::WatchlistEntry;

/// Alerts are not what these tests are about: a notifier that accepts everything.
static NOTIFIER: std::sync::LazyLock<MemoryNotifier> = std::sync::LazyLock::new(MemoryNotifier::default);
use tests::{provision, TestEnv};

fn entry() -> WatchlistEntry {
    WatchlistEntry::new(Symbol::parse("ETH_BTC").unwrap())
}

fn evaluator<'a>(
    store: &'a impl Store,
    q: &'a MemoryQueue,
    m: &'a ReplayMarketData,
    c: &'a ManualClock,
) -> evaluator::handler::Evaluator<'a> {
    evaluator::handler::Evaluator {
        stores: Stores::of(store),
        read_control: false,
        queue: q,
        market: m,
        clock: c,
        notifier: &*NOTIFIER,
        timeframe: Timeframe::H1,
        candle_count: 200,
        concurrency: 4,
        claim_lease_ms: 60_000,
        mode: shared::order::ExecutionMode::Paper,
        deadline: None,
    }
}

/// The first market time at which the replayed ETH_BTC series gives a signal, found with in-memory fakes.
async fn first_signal_time(market: &ReplayMarketData) -> i64 {
    let store = MemoryStore::with_watchlist(vec![entry()]);
    let queue = MemoryQueue::default();
    let clock = ManualClock::new(Utc::now(), 0);
    for t in market.close_times(Timeframe::H1) {
        clock.set_market_ms(t);
        if evaluator(&store, &queue, market, &clock).run().await.unwrap().signals > 0 {
            return t;
        }
    }
    panic!("no signal in the replay");
}

#[tokio::test]
async fn two_overlapping_runs_over_one_candle_send_one_signal() {
    let env = TestEnv::new("race").await;
    let store = env.store();
    provision::seed_watchlist(
        &aws_sdk_dynamodb::Client::new(&env.aws),
        &env.p.tables.watchlist,
        &[entry()],
    )
    .await
    .unwrap();
    let market = ReplayMarketData::embedded().unwrap();
    let t = first_signal_time(&market).await;
    let clock = ManualClock::new(Utc::now(), t);
    let (qa, qb) = (MemoryQueue::default(), MemoryQueue::default());
    let (a, b) = (
        evaluator(&store, &qa, &market, &clock),
        evaluator(&store, &qb, &market, &clock),
    );
    let (ra, rb) = tokio::join!(a.run(), b.run());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(
        ra.signals + rb.signals,
        1,
        "one run sends, the other finds the emission taken: {ra:?} {rb:?}"
    );
    assert_eq!(qa.sent().len() + qb.sent().len(), 1, "one enqueue");
    let rows = store
        .created_between(Utc::now() - chrono::Duration::hours(1), Utc::now())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let list = store.list().await.unwrap();
    let last = list[0].last(rows[0].side).unwrap();
    assert_eq!(last.signal_id.as_deref(), Some(rows[0].signal_id.as_str()));
}

/// Another run's claim of the emission the evaluator is about to send at the first signal's time, taken
/// `claim_age_ms` ago (it never wrote the signal row); then one evaluator run. Returns the run's queue and summary.
async fn run_after_a_claim(env: &TestEnv, claim_age_ms: i64) -> (MemoryQueue, SignalMessage, RunSummary) {
    let store = env.store();
    provision::seed_watchlist(
        &aws_sdk_dynamodb::Client::new(&env.aws),
        &env.p.tables.watchlist,
        &[entry()],
    )
    .await
    .unwrap();
    let market = ReplayMarketData::embedded().unwrap();
    let t = first_signal_time(&market).await;
    // Find the side and candle the evaluator will send at t, with fakes.
    let probe = MemoryStore::with_watchlist(vec![entry()]);
    let pq = MemoryQueue::default();
    let pc = ManualClock::new(Utc::now(), t);
    evaluator(&probe, &pq, &market, &pc).run().await.unwrap();
    let sent = pq.sent().remove(0);
    let sym = Symbol::parse("ETH_BTC").unwrap();
    let claimed = Emission {
        candle_open_ms: sent.signal_id.candle_open_ms(),
        price: sent.price,
        signal_id: Some(sent.signal_id.to_string()),
        claimed_at_ms: Some(Utc::now().timestamp_millis() - claim_age_ms),
        claim_token: Some("dead-run".into()),
    };
    assert!(store.record_emission(&sym, sent.side, None, &claimed).await.unwrap());

    let queue = MemoryQueue::default();
    let clock = ManualClock::new(Utc::now(), t);
    let summary = evaluator(&store, &queue, &market, &clock).run().await.unwrap();
    (queue, sent, summary)
}

#[tokio::test]
async fn an_emission_claimed_by_a_run_that_died_is_finished_by_the_next_run() {
    let env = TestEnv::new("resume").await;
    // The claim is older than the 60 s lease: its run died between the claim and the signal row.
    let (queue, sent, summary) = run_after_a_claim(&env, 61_000).await;
    assert_eq!(summary.signals, 1, "not throttled away by its own claim");
    assert_eq!(queue.sent()[0].signal_id, sent.signal_id);
}

#[tokio::test]
async fn an_emission_claimed_by_a_run_in_flight_is_left_to_it() {
    let env = TestEnv::new("inflight").await;
    // Another run claimed the emission a second ago and is still writing the signal row.
    let (queue, _, summary) = run_after_a_claim(&env, 1_000).await;
    assert_eq!(summary.signals, 0, "the run holding the claim sends, not this one");
    assert!(queue.sent().is_empty());
    let store = env.store();
    let rows = store
        .created_between(Utc::now() - chrono::Duration::hours(1), Utc::now())
        .await
        .unwrap();
    assert!(rows.is_empty(), "no signal row written by the second run");
}
