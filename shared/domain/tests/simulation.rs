//! Simulation of the orchestrator state machine (tier 4): many seeded runs in virtual time, each throwing at a few
//! signals duplicate deliveries, workers killed mid-flight (Lambda timeouts), workers that stall past their lease
//! and wake up late, slow stores, exchange timeouts before and after acceptance, orders that become visible late, and
//! failing lookups. Afterwards every signal must have exactly one decision and a terminal intent, and the exchange
//! must hold at most one order per signal (exactly one when the decision is EXECUTED, none when FAILED).
//!
//! The exchange below does *not* deduplicate client_oids (a MARKET order is closed at once, so the real exchange's
//! duplicate check may not catch a resend): no double order may come from the state machine itself. The one
//! assumption is the one the design states: an accepted order becomes visible to lookups within the settle window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use rust_decimal::Decimal;

use domain::decision::{DecisionType, ReasonCode};
use domain::fakes::MemoryStore;
use domain::flow::orchestration::{Orchestrator, OrchestratorSettings, Outcome};
use domain::ids::{ClientOid, Side, SignalId, Symbol};
use domain::order::{ExecutionMode, IntentStatus, OrderIntent};
use domain::ports::{
    Claim, ClaimRequest, Clock, ControlStore, Exchange, ExchangeError, Finalization, FinalizeOutcome, IntentStore,
    Lookup, OrderAck, OrderRequest, PutOutcome, SignalStore, StoreError, Stores,
};
use domain::signal::SignalRecord;

/// xorshift64*: small, seeded, good enough to explore interleavings.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

type SharedRng = Arc<Mutex<Rng>>;
fn roll(rng: &SharedRng, f: impl FnOnce(&mut Rng) -> u64) -> u64 {
    f(&mut rng.lock().unwrap())
}

/// Record time follows tokio's (paused, virtual) clock.
#[derive(Clone)]
struct SimClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}
impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.base + chrono::Duration::from_std(self.start.elapsed()).unwrap()
    }
    fn market_now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// Store wrapper: every call may be slow; sometimes very slow (a worker stalls past its lease).
struct SlowStore {
    inner: MemoryStore,
    rng: SharedRng,
    faults: bool,
}
impl SlowStore {
    async fn stall(&self) {
        if !self.faults {
            return;
        }
        let ms = roll(&self.rng, |r| {
            if r.chance(4) {
                40_000 + r.below(120_000)
            } else {
                r.below(1_500)
            }
        });
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}
#[async_trait]
impl IntentStore for SlowStore {
    async fn claim(&self, req: ClaimRequest<'_>) -> Result<Claim, StoreError> {
        self.stall().await;
        let r = self.inner.claim(req).await;
        self.stall().await;
        r
    }
    async fn get_many(&self, k: &[domain::ids::IdempotencyKey]) -> Result<Vec<OrderIntent>, StoreError> {
        self.inner.get_many(k).await
    }
    async fn open_orders(&self) -> Result<Vec<OrderIntent>, StoreError> {
        self.inner.open_orders().await
    }
    async fn intents_created_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<OrderIntent>, StoreError> {
        self.inner.intents_created_between(since, until).await
    }
    async fn finalize(&self, f: &Finalization) -> Result<FinalizeOutcome, StoreError> {
        self.stall().await;
        self.inner.finalize(f).await
    }
    async fn take_over(&self, seen: &OrderIntent, lease: i64) -> Result<Option<OrderIntent>, StoreError> {
        self.stall().await;
        self.inner.take_over(seen, lease).await
    }
    async fn save_owned(&self, i: &OrderIntent) -> Result<bool, StoreError> {
        self.stall().await;
        self.inner.save_owned(i).await
    }
    async fn record_fill(&self, u: &domain::order::FillUpdate) -> Result<bool, StoreError> {
        self.stall().await;
        self.inner.record_fill(u).await
    }
    async fn record_protection(&self, u: &domain::order::protection::ProtectionUpdate) -> Result<bool, StoreError> {
        self.stall().await;
        self.inner.record_protection(u).await
    }
}
#[async_trait]
impl SignalStore for SlowStore {
    async fn put_new(&self, s: &SignalRecord) -> Result<PutOutcome<SignalRecord>, StoreError> {
        self.inner.put_new(s).await
    }
    async fn created_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Result<Vec<SignalRecord>, StoreError> {
        self.inner.created_between(a, b).await
    }
    async fn recent_sent(
        &self,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
        side: Option<Side>,
        limit: Option<usize>,
    ) -> Result<Vec<SignalRecord>, StoreError> {
        self.inner.recent_sent(a, b, side, limit).await
    }
    async fn record_alert(&self, id: &SignalId, sent: Option<i64>) -> Result<(), StoreError> {
        self.inner.record_alert(id, sent).await
    }
    async fn record_decision(
        &self,
        id: &SignalId,
        k: &domain::ids::IdempotencyKey,
        d: &domain::decision::Decision,
    ) -> Result<bool, StoreError> {
        self.stall().await;
        self.inner.record_decision(id, k, d).await
    }
    async fn get_signals(&self, ids: &[SignalId]) -> Result<Vec<SignalRecord>, StoreError> {
        self.inner.get_signals(ids).await
    }
}

struct Order {
    ack: OrderAck,
    visible_at: tokio::time::Instant,
}

/// An exchange that accepts, rejects, times out before or after accepting, and shows orders late.
struct SimExchange {
    rng: SharedRng,
    faults: bool,
    orders: Mutex<Vec<(ClientOid, Order)>>,
}
impl SimExchange {
    fn orders_for(&self, oid: &ClientOid) -> Vec<OrderAck> {
        self.orders
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == oid)
            .map(|(_, o)| o.ack.clone())
            .collect()
    }
}
#[async_trait]
impl Exchange for SimExchange {
    /// A fixed price: sizing is not what this simulation is about, and no draw from the seed is spent on it.
    async fn usd_price(&self, currency: &str) -> Result<domain::money::UsdPrice, ExchangeError> {
        Ok(domain::money::UsdPrice {
            currency: currency.to_string(),
            usd_per_unit: Decimal::from(20_000),
            source: "simulation".to_string(),
        })
    }
    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let (fate, delay, visible) = {
            let mut r = self.rng.lock().unwrap();
            let fate = if self.faults { r.below(100) } else { 0 };
            (fate, r.below(3_000), r.below(10_000))
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let accept = || {
            let n = self.orders.lock().unwrap().len();
            let ack = OrderAck {
                order_id: format!("ord-{n}"),
                client_oid: req.client_oid.clone(),
            };
            let visible_at = tokio::time::Instant::now() + Duration::from_millis(visible);
            self.orders.lock().unwrap().push((
                req.client_oid.clone(),
                Order {
                    ack: ack.clone(),
                    visible_at,
                },
            ));
            ack
        };
        match fate {
            0..=54 => Ok(accept()),
            55..=64 => Err(ExchangeError::Rejected {
                code: ReasonCode::InsufficientFunds,
                message: "306 INSUFFICIENT_AVAILABLE_BALANCE".into(),
                snippet: "code=306".into(),
            }),
            65..=84 => {
                accept();
                let late = roll(&self.rng, |r| r.below(5_000));
                tokio::time::sleep(Duration::from_millis(late)).await;
                Err(ExchangeError::unknown("timeout after the request left"))
            }
            _ => Err(ExchangeError::unknown("connection reset before the request arrived")),
        }
    }

    async fn find_order(&self, oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        if self.faults && roll(&self.rng, |r| r.below(100)) < 10 {
            return Err(ExchangeError::unknown("lookup timed out"));
        }
        let now = tokio::time::Instant::now();
        let orders = self.orders.lock().unwrap();
        Ok(orders
            .iter()
            .find(|(o, order)| o == oid && order.visible_at <= now)
            .map_or(Lookup::NotFound, |(_, order)| Lookup::Placed(order.ack.clone())))
    }

    /// Not drawn on by this simulation's orchestrator (fills are followed by the handler and the sweeper).
    async fn order_detail(
        &self,
        _order: &domain::order::PlacedOrder,
    ) -> Result<Option<domain::order::Reported>, ExchangeError> {
        Ok(None)
    }
    /// Not drawn on by this simulation's orchestrator.
    async fn open_orders(&self) -> Result<Vec<domain::order::OpenOrder>, ExchangeError> {
        Ok(Vec::new())
    }
}

fn signal(i: i64, now: DateTime<Utc>) -> SignalRecord {
    let sym = Symbol::parse("ETH_BTC").unwrap();
    let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
    SignalRecord {
        candle_open_ms: 0,
        message: String::new(),
        ..domain::fakes::sent_signal(&sym, side, 1_516_579_200_000 + i * 3_600_000, Decimal::new(921, 4), now)
    }
}

/// One seeded run. Returns how many deliveries were made, how many signals the cap held back and how many fill
/// increments were recorded (to show the runs are not trivial).
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn run(seed: u64) -> (usize, usize, usize, Protected) {
    let rng: SharedRng = Arc::new(Mutex::new(Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)));
    // The virtual day starts at 01:00 UTC plus up to 10 minutes chosen by the seed: a seed replays the same run on any
    // day at any hour (the risk counters are grouped by calendar day), with a whole day ahead of it.
    let clock = SimClock {
        base: DateTime::from_timestamp(1_772_413_200 + i64::try_from(seed % 600).unwrap(), 0).unwrap(),
        start: tokio::time::Instant::now(),
    };
    let memory = MemoryStore::default();
    // A daily cap of 1 to 6 orders (seeded) for the six signals: a limit may bind, and must hold through every fault.
    let cap = u32::try_from(1 + seed % 6).unwrap();
    let capped = domain::risk::Control {
        limits: domain::risk::RiskLimits {
            max_orders_per_day: Some(cap),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(memory.replace_control(0, &capped).await.unwrap());
    // The SELLs have coins to sell (bought before the run): what is simulated is the order path, not the position.
    memory.set_held(&Symbol::parse("ETH_BTC").unwrap(), Decimal::from(1_000_000));
    let signals: Vec<SignalRecord> = (0..6).map(|i| signal(i, clock.now())).collect();
    for s in &signals {
        memory.put_new(s).await.unwrap();
    }
    // Freshness is not what this simulation is about: runs span hours of virtual time.
    let settings = OrchestratorSettings {
        mode: ExecutionMode::Paper,
        max_signal_age_ms: i64::MAX / 2,
        ..Default::default()
    };
    let stormy_store = SlowStore {
        inner: memory.clone(),
        rng: rng.clone(),
        faults: true,
    };
    let stormy_exchange = Arc::new(SimExchange {
        rng: rng.clone(),
        faults: true,
        orders: Mutex::new(Vec::new()),
    });
    let storm = Orchestrator {
        stores: Stores {
            intents: &stormy_store,
            signals: &stormy_store,
            ..Stores::of(&stormy_store.inner)
        },
        guard: &domain::risk::ControlCache::default(),
        exchange: stormy_exchange.as_ref(),
        clock: &clock,
        settings,
    };

    // Storm: 1-3 deliveries per signal at random times; each may be killed by the Lambda timeout (30 s) or, for a
    // quarter of them, run on past it (a worker that wakes up late); retries come back after a visibility timeout.
    let mut inflight = FuturesUnordered::new();
    let mut deliveries = 0;
    let deliver = |idx: usize, after_ms: u64, enforce_timeout: bool| {
        let msg = signals[idx].to_message();
        let storm = &storm;
        async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            let fut = storm.process(&msg);
            let r = if enforce_timeout {
                tokio::time::timeout(Duration::from_secs(30), fut).await.ok()
            } else {
                Some(fut.await)
            };
            (idx, r)
        }
    };
    for idx in 0..signals.len() {
        for _ in 0..=roll(&rng, |r| r.below(3)) {
            let (after, enforce) = { (roll(&rng, |r| r.below(100_000)), roll(&rng, |r| r.below(4)) != 0) };
            inflight.push(deliver(idx, after, enforce));
            deliveries += 1;
        }
    }
    while let Some((idx, result)) = inflight.next().await {
        let again = match result {
            None => true,                        // killed: the message comes back
            Some(Ok(Outcome::Retry(_))) => true, // reported as a batch item failure
            Some(Ok(Outcome::Decided(..))) => false,
            Some(Ok(Outcome::Refused(why))) => panic!("seed {seed}: a real signal was refused: {why}"),
            Some(Err(e)) => panic!(
                "seed {seed}: store error {e}; the signal's decision {:?}; intent {:?}",
                memory
                    .signals()
                    .iter()
                    .find(|s| s.signal_id == signals[idx].signal_id)
                    .and_then(|s| s.decision.clone()),
                memory.intents().iter().find(|i| i.signal_id == signals[idx].signal_id)
            ),
        };
        if again && deliveries < 200 {
            // At-least-once delivery: a copy may come back at any time, not only after the visibility timeout.
            let after = roll(&rng, |r| r.below(210_000));
            let enforce = roll(&rng, |r| r.below(4)) != 0;
            inflight.push(deliver(idx, after, enforce));
            deliveries += 1;
        }
    }
    drop(inflight);

    // Calm: the queue keeps redelivering (visibility timeout) until every signal is decided; no new faults.
    let calm_store = SlowStore {
        inner: memory.clone(),
        rng: rng.clone(),
        faults: false,
    };
    let calm_exchange = SimExchange {
        rng: rng.clone(),
        faults: false,
        orders: Mutex::new(Vec::new()),
    };
    // Orders placed during the storm stay on the exchange: move them over.
    *calm_exchange.orders.lock().unwrap() = std::mem::take(&mut *stormy_exchange.orders.lock().unwrap());
    let calm = Orchestrator {
        stores: Stores {
            intents: &calm_store,
            signals: &calm_store,
            ..Stores::of(&calm_store.inner)
        },
        guard: &domain::risk::ControlCache::default(),
        exchange: &calm_exchange,
        clock: &clock,
        settings,
    };
    for s in &signals {
        let msg = s.to_message();
        let mut rounds = 0;
        loop {
            match calm.process(&msg).await.unwrap() {
                Outcome::Decided(..) => break,
                Outcome::Refused(why) => panic!("seed {seed}: a real signal was refused: {why}"),
                Outcome::Retry(why) => {
                    rounds += 1;
                    assert!(rounds < 10, "seed {seed}: {} never settles: {why}", s.signal_id);
                    tokio::time::sleep(Duration::from_secs(180)).await;
                }
            }
            deliveries += 1;
        }
    }

    let intents: HashMap<_, _> = memory
        .intents()
        .into_iter()
        .map(|i| (i.idempotency_key.clone(), i))
        .collect();
    for s in memory.signals() {
        let key = s.idempotency_key();
        let intent = intents
            .get(&key)
            .unwrap_or_else(|| panic!("seed {seed}: {} has no intent", s.signal_id));
        let decision = s
            .decision
            .clone()
            .unwrap_or_else(|| panic!("seed {seed}: {} has no decision", s.signal_id));
        assert!(
            intent.status.is_terminal(),
            "seed {seed}: {} ends {}",
            s.signal_id,
            intent.status
        );
        let orders = calm_exchange.orders_for(&key.client_oid());
        assert!(
            orders.len() <= 1,
            "seed {seed}: {} has {} orders",
            s.signal_id,
            orders.len()
        );
        match decision.decision_type {
            DecisionType::Executed => {
                assert_eq!(orders.len(), 1, "seed {seed}: EXECUTED without an order");
                assert_eq!(intent.status, IntentStatus::OrderPlaced);
                assert_eq!(intent.order_id.as_ref(), Some(&orders[0].order_id));
                assert_eq!(decision.order_id.as_ref(), Some(&orders[0].order_id), "seed {seed}");
            }
            DecisionType::Failed => {
                assert_eq!(orders.len(), 0, "seed {seed}: FAILED but an order exists");
                assert_eq!(intent.status, IntentStatus::OrderFailed);
                assert!(
                    memory.alerts().iter().any(|a| a.alert_id.ends_with(key.as_str())),
                    "failure alert outbox row"
                );
            }
            DecisionType::Skipped => {
                assert_eq!(
                    decision.reason_code,
                    ReasonCode::RiskLimitExceeded,
                    "seed {seed}: only the cap skips here"
                );
                assert_eq!(orders.len(), 0, "seed {seed}: SKIPPED but an order exists");
                assert!(
                    intent.reserved.is_empty(),
                    "seed {seed}: a held-back signal reserves nothing"
                );
            }
        }
    }
    // Per day of claim: no more placed orders than the cap, and the day's counter holds exactly the placed ones
    // (every failed order released its reservation, once).
    let mut placed_per_day: HashMap<String, i64> = HashMap::new();
    for i in intents.values() {
        let day = domain::time::day_of(i.created_at);
        *placed_per_day.entry(day).or_default() += i64::from(i.status == IntentStatus::OrderPlaced);
    }
    for (day, placed) in placed_per_day {
        assert!(
            placed <= i64::from(cap),
            "seed {seed}: {placed} orders on {day}, cap {cap}"
        );
        let counted = memory.usage(&domain::risk::global_day_key(&day)).await.unwrap().orders;
        assert_eq!(
            counted, placed,
            "seed {seed}: the counter of {day} disagrees with the placed orders"
        );
    }
    let held = intents.values().filter(|i| i.status == IntentStatus::Skipped).count();
    let increments = follow_fills(seed, &memory, &rng, &clock).await;
    let protected = protect_positions(seed, &memory, &rng, &clock).await;
    (deliveries, held, increments, protected)
}

/// What the exchange fills for one placed order: `parts` equal parts at one price, the fee per part in the base
/// currency for a BUY and in the quote currency for a SELL; `filled` parts so far.
struct Truth {
    side: Side,
    quantity_per_part: Decimal,
    price: Decimal,
    fee_per_part: Decimal,
    parts: u32,
    filled: u32,
}

impl Truth {
    fn report(&self) -> domain::order::Reported {
        let n = Decimal::from(self.filled);
        domain::order::Reported {
            status: if self.filled == self.parts {
                domain::order::OrderStatus::Filled
            } else if self.filled == 0 {
                domain::order::OrderStatus::Active
            } else {
                domain::order::OrderStatus::PartiallyFilled
            },
            filled_quantity: self.quantity_per_part * n,
            average_price: if self.filled == 0 { Decimal::ZERO } else { self.price },
            fee: self.fee_per_part * n,
            fee_currency: if self.side == Side::Buy { "ETH" } else { "BTC" }.into(),
        }
    }
}

/// The exchange as the reconcilers see it after the orders were placed: each lookup may fill one more part, and
/// while `faults` is on a tenth of the answers are lost (the fill moved on; the caller learns nothing).
struct FillExchange {
    rng: SharedRng,
    faults: std::sync::atomic::AtomicBool,
    truth: Mutex<HashMap<ClientOid, Truth>>,
}

#[async_trait]
impl Exchange for FillExchange {
    async fn usd_price(&self, _currency: &str) -> Result<domain::money::UsdPrice, ExchangeError> {
        Err(ExchangeError::not_sent("not used by the reconcilers"))
    }
    async fn place_order(&self, _req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        Err(ExchangeError::not_sent("not used by the reconcilers"))
    }
    async fn find_order(&self, _oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        Err(ExchangeError::not_sent("not used by the reconcilers"))
    }
    async fn order_detail(
        &self,
        order: &domain::order::PlacedOrder,
    ) -> Result<Option<domain::order::Reported>, ExchangeError> {
        let (delay, advance, lost) = {
            let mut r = self.rng.lock().unwrap();
            (r.below(2_000), r.chance(60), r.chance(10))
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let report = {
            let mut truth = self.truth.lock().unwrap();
            let Some(t) = truth.get_mut(&order.client_oid) else {
                return Ok(None);
            };
            if advance && t.filled < t.parts {
                t.filled += 1;
            }
            t.report()
        };
        if lost && self.faults.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ExchangeError::unknown("the answer was lost"));
        }
        Ok(Some(report))
    }
    async fn open_orders(&self) -> Result<Vec<domain::order::OpenOrder>, ExchangeError> {
        Err(ExchangeError::not_sent("not used by the reconcilers"))
    }
}

/// After the orders: three reconcilers at once, each run killed at a random moment or stalled by the store, lookups
/// whose answers are lost; then one calm reconciler until every fill is final. The recorded fills must equal the
/// exchange's, each increment must have one ORDER EXECUTED row, delivered once, and the held quantity and the ledger
/// must agree with the exchange. Returns the number of increments.
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn follow_fills(seed: u64, memory: &MemoryStore, rng: &SharedRng, clock: &SimClock) -> usize {
    let placed: Vec<OrderIntent> = memory
        .intents()
        .into_iter()
        .filter(|i| i.status == IntentStatus::OrderPlaced)
        .collect();
    let truth = placed
        .iter()
        .map(|i| {
            let mut r = rng.lock().unwrap();
            let t = Truth {
                side: i.side,
                quantity_per_part: Decimal::new(1 + i64::try_from(r.below(500)).unwrap(), 3),
                price: Decimal::new(900 + i64::try_from(r.below(50)).unwrap(), 4),
                fee_per_part: Decimal::new(i64::try_from(r.below(10)).unwrap(), 6),
                parts: 1 + u32::try_from(r.below(4)).unwrap(),
                filled: 0,
            };
            (i.client_oid.clone(), t)
        })
        .collect();
    let exchange = FillExchange {
        rng: rng.clone(),
        faults: true.into(),
        truth: Mutex::new(truth),
    };
    let notifier = domain::fakes::MemoryNotifier::default();
    let stormy = SlowStore {
        inner: memory.clone(),
        rng: rng.clone(),
        faults: true,
    };
    let follower = |store: &'static SlowStore| domain::flow::follow::Follower {
        stores: Stores {
            intents: store,
            ..Stores::of(&store.inner)
        },
        exchange: &exchange,
        notifier: &notifier,
        clock,
    };
    let stormy: &'static SlowStore = Box::leak(Box::new(stormy));
    let storm = FuturesUnordered::new();
    for container in 0..3u64 {
        let f = follower(stormy);
        storm.push(async move {
            for round in 0..6u64 {
                let (wait, limit) = {
                    let mut r = rng.lock().unwrap();
                    (r.below(60_000), 1_000 + r.below(60_000))
                };
                tokio::time::sleep(Duration::from_millis(wait + container * 7 + round)).await;
                let intents = memory.intents();
                // A Lambda timeout kills the run wherever it is (between the record and the send, say).
                let _ = tokio::time::timeout(
                    Duration::from_millis(limit),
                    f.follow_all(&intents, 4, chrono::Duration::seconds(120)),
                )
                .await;
            }
        });
    }
    storm.collect::<Vec<_>>().await;

    exchange.faults.store(false, std::sync::atomic::Ordering::SeqCst);
    let calm_store: &'static SlowStore = Box::leak(Box::new(SlowStore {
        inner: memory.clone(),
        rng: rng.clone(),
        faults: false,
    }));
    let calm = follower(calm_store);
    for round in 0.. {
        tokio::time::sleep(Duration::from_secs(300)).await; // the sweeper's schedule: PENDING rows are past the grace
        let intents = memory.intents();
        let t = calm
            .follow_all(&intents, 4, chrono::Duration::seconds(120))
            .await
            .unwrap();
        if t.looked_up == 0 && t.executed_messages == 0 {
            break;
        }
        assert!(round < 40, "seed {seed}: the fills never settle: {t:?}");
    }

    let truth = std::mem::take(&mut *exchange.truth.lock().unwrap());
    let alerts = memory.alerts();
    let mut increments = 0;
    let (mut bought, mut sold) = (Decimal::ZERO, Decimal::ZERO);
    for i in memory
        .intents()
        .into_iter()
        .filter(|i| i.status == IntentStatus::OrderPlaced)
    {
        let t = &truth[&i.client_oid];
        let fill = i
            .fill
            .clone()
            .unwrap_or_else(|| panic!("seed {seed}: {} has no fill", i.idempotency_key));
        let want = t.report();
        assert_eq!(
            t.filled, t.parts,
            "seed {seed}: the calm reconciler reads every order to the end"
        );
        assert_eq!(
            (fill.status, fill.filled_quantity, fill.average_price, fill.fee),
            (want.status, want.filled_quantity, want.average_price, want.fee),
            "seed {seed}: the record is the exchange's"
        );
        let rows: Vec<_> = alerts
            .iter()
            .filter(|a| a.alert_id.starts_with(&format!("executed:{}:", i.idempotency_key)))
            .collect();
        assert_eq!(
            rows.len(),
            fill.increments as usize,
            "seed {seed}: one row per increment"
        );
        assert!(
            rows.iter().all(|a| a.status == domain::outbox::AlertStatus::Sent),
            "seed {seed}: every row sent"
        );
        increments += rows.len();
        match t.side {
            Side::Buy => bought += want.filled_quantity - want.fee,
            Side::Sell => sold += want.filled_quantity,
        }
    }
    let executed = notifier.sent().iter().filter(|m| m.contains("ORDER EXECUTED")).count();
    assert_eq!(executed, increments, "seed {seed}: each increment messaged once");
    let sym = Symbol::parse("ETH_BTC").unwrap();
    assert_eq!(
        memory.held(&sym).await.unwrap(),
        Decimal::from(1_000_000) + bought - sold,
        "seed {seed}: the held quantity moved by each fill once"
    );
    let ledger = domain::order::Ledger::from_intents(&memory.intents(), Decimal::new(1, 8));
    if let Some(p) = ledger.positions().first() {
        assert_eq!(
            p.quantity - p.unmatched_sell_quantity,
            bought - sold,
            "seed {seed}: the ledger holds what the exchange filled"
        );
    }
    increments
}

/// The exchange as the protectors see it: the in-memory OCO exchange (legs by client_oid; a fill of one leg cancels
/// its sibling; a resend of legs it holds places nothing) behind faults — a tenth of the create-oco requests refused,
/// a tenth applied with the answer lost, a tenth lost before they arrive, a tenth of the leg reads lost, every call
/// slow.
struct StormyOco {
    inner: domain::fakes::OcoExchange,
    rng: SharedRng,
    faults: std::sync::atomic::AtomicBool,
    /// create-oco requests applied whose answer was lost.
    lost: std::sync::atomic::AtomicUsize,
}

impl StormyOco {
    async fn fate(&self) -> u64 {
        let (delay, fate) = {
            let mut r = self.rng.lock().unwrap();
            (r.below(2_000), r.below(100))
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if self.faults.load(std::sync::atomic::Ordering::SeqCst) {
            fate
        } else {
            99
        }
    }
}

#[async_trait]
impl Exchange for StormyOco {
    async fn usd_price(&self, c: &str) -> Result<domain::money::UsdPrice, ExchangeError> {
        self.inner.usd_price(c).await
    }
    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        self.inner.place_order(req).await
    }
    async fn find_order(&self, oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        self.inner.find_order(oid).await
    }
    async fn order_detail(
        &self,
        order: &domain::order::PlacedOrder,
    ) -> Result<Option<domain::order::Reported>, ExchangeError> {
        self.inner.order_detail(order).await
    }
    async fn open_orders(&self) -> Result<Vec<domain::order::OpenOrder>, ExchangeError> {
        self.inner.open_orders().await
    }
    async fn create_oco(&self, oco: &domain::order::Oco) -> Result<domain::order::OcoAck, ExchangeError> {
        match self.fate().await {
            0..=9 => Err(ExchangeError::Rejected {
                code: ReasonCode::ExchangeRejected,
                message: "308 INVALID_PRICE".into(),
                snippet: "code=308".into(),
            }),
            10..=19 => {
                self.lost.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = self.inner.create_oco(oco).await;
                Err(ExchangeError::unknown("timeout after the request left"))
            }
            20..=29 => Err(ExchangeError::unknown("connection reset before the request arrived")),
            _ => self.inner.create_oco(oco).await,
        }
    }
    async fn oco_detail(&self, oco: &domain::order::Oco) -> Result<domain::order::OcoReport, ExchangeError> {
        match self.fate().await {
            0..=9 => Err(ExchangeError::unknown("the answer was lost")),
            _ => self.inner.oco_detail(oco).await,
        }
    }
    async fn cancel_leg(&self, oco: &domain::order::Oco, leg: domain::order::Leg) -> Result<(), ExchangeError> {
        self.inner.cancel_leg(oco, leg).await
    }
}

/// After the fills: three protectors at once over every filled BUY, each run killed at a random moment or stalled by
/// the store, the exchange refusing, losing answers, and the market reaching legs between runs; then one calm
/// protector until nothing moves. Every entry ends protected or closed (never left unprotected without the report
/// saying so), no entry ever has more than one OCO or sells more than it protected, and the held quantity and the
/// ledger are the exchange's fills.
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn protect_positions(seed: u64, memory: &MemoryStore, rng: &SharedRng, clock: &SimClock) -> Protected {
    use domain::order::{Leg, ProtectionStatus};
    let exchange = StormyOco {
        inner: domain::fakes::OcoExchange::default(),
        rng: rng.clone(),
        faults: true.into(),
        lost: 0.into(),
    };
    let notifier = domain::fakes::MemoryNotifier::default();
    let stormy: &'static SlowStore = Box::leak(Box::new(SlowStore {
        inner: memory.clone(),
        rng: rng.clone(),
        faults: true,
    }));
    let protector = |store: &'static SlowStore| domain::flow::protect::Protector {
        stores: Stores {
            intents: store,
            ..Stores::of(&store.inner)
        },
        exchange: &exchange,
        notifier: Some(&notifier),
        clock,
        quantity_decimals: 8,
    };
    let held_before = memory.held(&Symbol::parse("ETH_BTC").unwrap()).await.unwrap();
    let market = |exchange: &StormyOco| {
        // The market reaches some legs: a fifth of the live protections see their take-profit or their stop.
        for i in memory.intents() {
            let Some(p) = i.protection.as_ref().filter(|p| p.status == ProtectionStatus::Active) else {
                continue;
            };
            let (hit, tp) = {
                let mut r = rng.lock().unwrap();
                (r.chance(20), r.chance(50))
            };
            if hit {
                let (leg, price) = if tp {
                    (Leg::TakeProfit, p.take_profit_price)
                } else {
                    (Leg::StopLoss, p.stop_price)
                };
                exchange
                    .inner
                    .trigger(&leg.client_oid(&i.idempotency_key), price, "BTC");
            }
        }
    };
    let storm = FuturesUnordered::new();
    for container in 0..3u64 {
        let p = protector(stormy);
        storm.push(async move {
            for round in 0..6u64 {
                let (wait, limit) = {
                    let mut r = rng.lock().unwrap();
                    (r.below(60_000), 1_000 + r.below(60_000))
                };
                tokio::time::sleep(Duration::from_millis(wait + container * 7 + round)).await;
                let intents = memory.intents();
                let _ = tokio::time::timeout(Duration::from_millis(limit), p.protect_all(&intents, 4)).await;
            }
        });
    }
    let weather = async {
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_secs(45)).await;
            market(&exchange);
        }
    };
    let (_, ()) = futures::join!(storm.collect::<Vec<_>>(), weather);

    exchange.faults.store(false, std::sync::atomic::Ordering::SeqCst);
    let calm_store: &'static SlowStore = Box::leak(Box::new(SlowStore {
        inner: memory.clone(),
        rng: rng.clone(),
        faults: false,
    }));
    let calm = protector(calm_store);
    for round in 0.. {
        tokio::time::sleep(Duration::from_secs(60)).await; // past every lease
        let t = calm.protect_all(&memory.intents(), 4).await.unwrap();
        if t.moved == 0 && t.busy == 0 && t.retry == 0 {
            break;
        }
        assert!(round < 40, "seed {seed}: the protections never settle: {t:?}");
    }

    let (mut entries, mut closed, mut flattened_n, mut leg_sold) = (0, 0, 0, Decimal::ZERO);
    for i in memory.intents().into_iter().filter(domain::order::intent::is_entry) {
        let p = i
            .protection
            .clone()
            .unwrap_or_else(|| panic!("seed {seed}: {} never protected", i.idempotency_key));
        assert!(
            p.status.is_protected() || p.status == ProtectionStatus::Closed,
            "seed {seed}: {} left {}",
            i.idempotency_key,
            p.status
        );
        entries += 1;
        closed += usize::from(p.status == ProtectionStatus::Closed);
        assert!(
            p.sold() <= p.quantity,
            "seed {seed}: {} sold more than it protected",
            i.idempotency_key
        );
        let flattened = p.fill_of(Leg::Flatten).is_some();
        let leg_filled = p.fill_of(Leg::TakeProfit).is_some() || p.fill_of(Leg::StopLoss).is_some();
        assert!(
            !(flattened && leg_filled),
            "seed {seed}: {} flattened beside a live OCO",
            i.idempotency_key
        );
        flattened_n += usize::from(flattened);
        // The record's leg fills are the exchange's.
        for leg in [Leg::TakeProfit, Leg::StopLoss] {
            let truth = exchange.inner.leg(&leg.client_oid(&i.idempotency_key));
            let filled = truth
                .filter(|r| r.filled_quantity > Decimal::ZERO)
                .map(|r| r.filled_quantity);
            assert_eq!(
                p.fill_of(leg).map(|f| f.filled_quantity),
                filled,
                "seed {seed}: {leg} of {}",
                i.idempotency_key
            );
        }
        leg_sold += p.sold();
    }
    let (sends, lists) = exchange.inner.oco_counts();
    assert!(lists <= entries, "seed {seed}: {lists} OCOs for {entries} entries");
    assert!(sends >= lists);
    let sym = Symbol::parse("ETH_BTC").unwrap();
    assert_eq!(
        memory.held(&sym).await.unwrap(),
        held_before - leg_sold,
        "seed {seed}: the held quantity lost each closing fill once"
    );
    let placed = notifier.sent().iter().filter(|m| m.contains("SL/TP PLACED")).count();
    assert_eq!(placed, lists, "seed {seed}: one SL/TP PLACED per OCO");
    Protected {
        ocos: lists,
        lost: exchange.lost.load(std::sync::atomic::Ordering::SeqCst),
        resends: exchange.inner.duplicates(),
        closed,
        flattened: flattened_n,
    }
}

/// What the protection phase of one seed did.
#[derive(Default)]
struct Protected {
    ocos: usize,
    /// create-oco answers lost after the exchange applied them (each found by a lookup or a resend, never doubled).
    lost: usize,
    /// create-oco requests that found their legs already placed (resends after lost answers): nothing placed.
    resends: usize,
    closed: usize,
    flattened: usize,
}

/// Seeds 0..`SIM_SEEDS` (default 1000), or only `SIM_SEED=k` to rerun one failing seed alone (the failure message
/// names it): `SIM_SEED=k cargo test -p domain --test simulation`.
#[tokio::test(start_paused = true)]
async fn at_most_one_order_and_exactly_one_decision_per_signal_over_many_seeds() {
    let number = |var: &str| std::env::var(var).ok().and_then(|s| s.parse::<u64>().ok());
    let seeds = match number("SIM_SEED") {
        Some(one) => one..one + 1,
        None => 0..number("SIM_SEEDS").unwrap_or(1000),
    };
    let runs = seeds.end - seeds.start;
    let (mut deliveries, mut held, mut increments) = (0, 0, 0);
    let mut p = Protected::default();
    for seed in seeds {
        let (d, h, f, q) = run(seed).await;
        deliveries += d;
        held += h;
        increments += f;
        p.ocos += q.ocos;
        p.lost += q.lost;
        p.resends += q.resends;
        p.closed += q.closed;
        p.flattened += q.flattened;
    }
    assert!(
        deliveries > runs as usize * 6,
        "the runs deliver more than once per signal ({deliveries})"
    );
    assert!(runs < 6 || held > 0, "the daily cap never bound in {runs} runs");
    assert!(
        runs < 6 || increments > runs as usize,
        "the fills came in parts ({increments} increments)"
    );
    eprintln!(
        "{runs} seeds: {deliveries} deliveries, {held} signals held back by the daily cap, {increments} fill increments \
         each recorded and messaged once; {} OCOs ({} answers lost after placing, {} resends that found the legs), \
         {} positions closed by a leg or a flatten, {} flattened",
        p.ocos, p.lost, p.resends, p.closed, p.flattened
    );
    assert!(
        runs < 6 || (p.lost > 0 && p.closed > 0 && p.flattened > 0),
        "protection's paths all ran"
    );
}
