//! In-memory fakes of the storage, queue and clock ports for unit tests and simulation. They implement the same
//! conditional semantics as the DynamoDB adapter: create-if-absent, fenced finalize, "no decision or the same one".

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::decision::Decision;
use crate::ids::{IdempotencyKey, Side, SignalId, Symbol};
use crate::order::{IntentStatus, OrderIntent};
use crate::outbox::AlertRecord;
use crate::ports::{
    AlertStore, Claim, ClaimRequest, Clock, ControlStore, EnqueueFailure, Finalization, FinalizeOutcome, IntentStore,
    PutOutcome, SignalQueue, SignalStore, StoreError, WatchlistStore,
};
use crate::risk::{Control, CounterDelta, RiskLimits, Usage};
use crate::signal::{SignalMessage, SignalRecord};
use crate::watchlist::WatchlistEntry;

#[derive(Default)]
struct Tables {
    signals: HashMap<SignalId, SignalRecord>,
    intents: HashMap<IdempotencyKey, OrderIntent>,
    alerts: HashMap<String, AlertRecord>,
    watchlist: Vec<WatchlistEntry>,
    control: Option<Control>,
    counters: HashMap<String, Usage>,
    streak: u32,
    updates: HashSet<i64>,
    held: HashMap<Symbol, rust_decimal::Decimal>,
    ghosts: (Vec<crate::order::OpenOrder>, Option<DateTime<Utc>>),
}

impl Tables {
    fn add(&mut self, d: &CounterDelta) {
        let c = self.counters.entry(d.key.clone()).or_default();
        c.usd = c.usd.checked_add(d.usd).unwrap_or(c.usd);
        c.orders = c.orders.saturating_add(d.orders);
    }
}

/// All four tables in memory, behind one lock (so a "transaction" is atomic).
#[derive(Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock only happens in a failing test; keep going with the data as it is.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn with_watchlist(entries: Vec<WatchlistEntry>) -> Self {
        let s = Self::default();
        s.lock().watchlist = entries;
        s
    }
    pub fn signals(&self) -> Vec<SignalRecord> {
        self.lock().signals.values().cloned().collect()
    }
    pub fn intents(&self) -> Vec<OrderIntent> {
        self.lock().intents.values().cloned().collect()
    }
    pub fn alerts(&self) -> Vec<AlertRecord> {
        self.lock().alerts.values().cloned().collect()
    }
    /// Sets the quantity the system holds for `symbol` (as if bought before the test).
    pub fn set_held(&self, symbol: &Symbol, quantity: rust_decimal::Decimal) {
        self.lock().held.insert(symbol.clone(), quantity);
    }
    pub fn insert_signal(&self, s: SignalRecord) {
        self.lock().signals.insert(s.signal_id.clone(), s);
    }
    pub fn insert_intent(&self, i: OrderIntent) {
        self.lock().intents.insert(i.idempotency_key.clone(), i);
    }
    pub fn insert_alert(&self, a: AlertRecord) {
        self.lock().alerts.insert(a.alert_id.clone(), a);
    }
}

fn decision_allowed(existing: &Option<Decision>, d: &Decision) -> bool {
    existing.as_ref().is_none_or(|e| e.same_outcome(d))
}

#[async_trait]
impl SignalStore for MemoryStore {
    async fn put_new(&self, signal: &SignalRecord) -> Result<PutOutcome<SignalRecord>, StoreError> {
        let mut t = self.lock();
        if let Some(old) = t.signals.get(&signal.signal_id) {
            return Ok(PutOutcome::Exists(old.clone()));
        }
        t.signals.insert(signal.signal_id.clone(), signal.clone());
        Ok(PutOutcome::Created)
    }

    async fn get_signals(&self, ids: &[SignalId]) -> Result<Vec<SignalRecord>, StoreError> {
        let t = self.lock();
        Ok(ids.iter().filter_map(|id| t.signals.get(id).cloned()).collect())
    }

    async fn created_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<SignalRecord>, StoreError> {
        let mut v: Vec<SignalRecord> = self
            .lock()
            .signals
            .values()
            .filter(|s| s.created_at >= since && s.created_at <= until)
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.signal_id.cmp(&a.signal_id))
        });
        Ok(v)
    }

    async fn recent_sent(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        side: Option<crate::ids::Side>,
        limit: Option<usize>,
    ) -> Result<Vec<SignalRecord>, StoreError> {
        let mut v = self.created_between(since, until).await?;
        v.retain(|s| !s.blocked && side.is_none_or(|side| s.side == side));
        if let Some(limit) = limit {
            v.truncate(limit);
        }
        Ok(v)
    }

    async fn record_alert(&self, signal_id: &SignalId, sent_message_id: Option<i64>) -> Result<(), StoreError> {
        let mut t = self.lock();
        let s = t
            .signals
            .get_mut(signal_id)
            .ok_or_else(|| StoreError::NotFound(format!("signal {signal_id}")))?;
        s.alert_message_id = sent_message_id;
        s.alert_status = Some(crate::signal::SignalAlertStatus::of_delivery(sent_message_id));
        Ok(())
    }

    async fn record_decision(
        &self,
        signal_id: &SignalId,
        _key: &IdempotencyKey,
        d: &Decision,
    ) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(s) = t.signals.get_mut(signal_id) else {
            return Err(StoreError::NotFound(format!("signal {signal_id}")));
        };
        if !decision_allowed(&s.decision, d) {
            return Ok(false);
        }
        if s.decision.is_none() {
            s.decision = Some(d.clone());
        }
        Ok(true)
    }
}

#[async_trait]
impl ControlStore for MemoryStore {
    async fn control(&self) -> Result<Control, StoreError> {
        Ok(self.lock().control.clone().unwrap_or_default())
    }

    async fn replace_control(&self, seen: u64, next: &Control) -> Result<bool, StoreError> {
        let mut t = self.lock();
        if t.control.as_ref().map_or(0, |c| c.version) != seen {
            return Ok(false);
        }
        t.control = Some(Control {
            version: seen.saturating_add(1),
            ..next.clone()
        });
        Ok(true)
    }

    async fn usage(&self, key: &str) -> Result<Usage, StoreError> {
        Ok(self.lock().counters.get(key).copied().unwrap_or_default())
    }

    async fn symbol_limits(&self, symbol: &Symbol) -> Result<RiskLimits, StoreError> {
        let t = self.lock();
        Ok(t.watchlist
            .iter()
            .find(|e| &e.symbol == symbol)
            .map(|e| e.limits.clone())
            .unwrap_or_default())
    }

    async fn record_streak(&self, failed: bool) -> Result<u32, StoreError> {
        let mut t = self.lock();
        t.streak = if failed { t.streak.saturating_add(1) } else { 0 };
        Ok(t.streak)
    }

    async fn sells_held_elsewhere(&self, symbol: &Symbol) -> Result<bool, StoreError> {
        let t = self.lock();
        Ok(t.watchlist.iter().any(|e| &e.symbol == symbol && e.sell_held_elsewhere))
    }

    async fn protection_settings(
        &self,
        symbol: &Symbol,
    ) -> Result<crate::order::protection::ProtectionSettings, StoreError> {
        let t = self.lock();
        let row = t.watchlist.iter().find(|e| &e.symbol == symbol);
        Ok(row
            .map_or_else(|| WatchlistEntry::new(symbol.clone()), Clone::clone)
            .protection_settings())
    }

    async fn held(&self, symbol: &Symbol) -> Result<rust_decimal::Decimal, StoreError> {
        Ok(self.lock().held.get(symbol).copied().unwrap_or_default())
    }

    async fn ghost_orders(&self) -> Result<(Vec<crate::order::OpenOrder>, Option<DateTime<Utc>>), StoreError> {
        Ok(self.lock().ghosts.clone())
    }

    async fn record_ghost_orders(
        &self,
        ghosts: &[crate::order::OpenOrder],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock().ghosts = (ghosts.to_vec(), Some(at));
        Ok(())
    }

    async fn first_update(&self, update_id: i64, _at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.lock().updates.insert(update_id))
    }
}

#[async_trait]
impl IntentStore for MemoryStore {
    async fn claim(&self, req: ClaimRequest<'_>) -> Result<Claim, StoreError> {
        let (intent, msg) = (req.intent, req.msg);
        let mut t = self.lock();
        let row = t.signals.get(&msg.signal_id);
        if row.is_none_or(|row| !msg.disagreements(row).is_empty()) {
            return Ok(Claim::SignalMismatch(msg.mismatch_reason(row)));
        }
        if let Some(old) = t.intents.get(&intent.idempotency_key) {
            return Ok(Claim::Exists(Box::new(old.clone())));
        }
        let control = t.control.clone().unwrap_or_default();
        if req.control_version.is_some_and(|v| v != control.version) {
            return Ok(Claim::ControlChanged(Box::new(control)));
        }
        if let Some(seen) = req.symbol_limits {
            let row = t.watchlist.iter().find(|e| e.symbol == msg.symbol);
            let now = row.map(|e| e.limits.clone()).unwrap_or_default();
            if &now != seen {
                return Ok(Claim::LimitsChanged(Box::new(now)));
            }
        }
        for (index, r) in req.reservations.iter().enumerate() {
            let used = t.counters.get(&r.delta.key).copied().unwrap_or_default();
            if !r.admits(used) {
                return Ok(Claim::LimitExceeded { index, used });
            }
        }
        for r in req.reservations {
            t.add(&r.delta);
        }
        if let Some(a) = req.alert {
            t.alerts.entry(a.alert_id.clone()).or_insert_with(|| a.clone());
        }
        t.intents.insert(intent.idempotency_key.clone(), intent.clone());
        Ok(Claim::Created)
    }

    async fn open_orders(&self) -> Result<Vec<OrderIntent>, StoreError> {
        let t = self.lock();
        Ok(t.intents
            .values()
            .filter(|i| crate::flow::follow::is_open(i) || crate::order::intent::needs_work(i))
            .cloned()
            .collect())
    }

    async fn intents_created_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<OrderIntent>, StoreError> {
        // Record times carry milliseconds in storage: compare as the index does.
        let ms = |t: DateTime<Utc>| t.timestamp_millis();
        let t = self.lock();
        Ok(t.intents
            .values()
            .filter(|i| (ms(since)..=ms(until)).contains(&ms(i.created_at)))
            .cloned()
            .collect())
    }

    async fn get_many(&self, keys: &[IdempotencyKey]) -> Result<Vec<OrderIntent>, StoreError> {
        let t = self.lock();
        Ok(keys.iter().filter_map(|k| t.intents.get(k).cloned()).collect())
    }

    async fn finalize(&self, f: &Finalization) -> Result<FinalizeOutcome, StoreError> {
        let mut t = self.lock();
        let fenced = t
            .intents
            .get(&f.intent.idempotency_key)
            .is_none_or(|cur| cur.attempt != f.intent.attempt);
        if fenced {
            return Ok(FinalizeOutcome::Fenced);
        }
        let Some(signal) = t.signals.get(&f.signal_id) else {
            return Ok(FinalizeOutcome::SignalMissing);
        };
        if !decision_allowed(&signal.decision, &f.decision) {
            return Ok(FinalizeOutcome::DecisionConflict);
        }
        t.intents.insert(f.intent.idempotency_key.clone(), f.intent.clone());
        if let Some(s) = t.signals.get_mut(&f.signal_id) {
            s.decision.get_or_insert_with(|| f.decision.clone());
        }
        if let Some(a) = &f.alert {
            t.alerts.entry(a.alert_id.clone()).or_insert_with(|| a.clone());
        }
        for d in &f.counters {
            t.add(d);
        }
        Ok(FinalizeOutcome::Committed)
    }

    async fn record_fill(&self, u: &crate::order::FillUpdate) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(cur) = t.intents.get(&u.key) else {
            return Ok(false);
        };
        if cur.status != IntentStatus::OrderPlaced || cur.fill.as_ref().map_or(0, |f| f.version) != u.seen_version {
            return Ok(false);
        }
        if let Some(a) = &u.alert {
            if t.alerts.contains_key(&a.alert_id) {
                return Err(StoreError::Unexpected(format!(
                    "outbox row {} exists before its fill",
                    a.alert_id
                )));
            }
            t.alerts.insert(a.alert_id.clone(), a.clone());
        }
        if let Some(cur) = t.intents.get_mut(&u.key) {
            cur.fill = Some(u.fill.clone());
        }
        let held = t.held.entry(u.symbol.clone()).or_default();
        *held = held.checked_add(u.held_delta).unwrap_or(*held);
        Ok(true)
    }

    async fn record_protection(&self, u: &crate::order::protection::ProtectionUpdate) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(cur) = t.intents.get(&u.key) else {
            return Ok(false);
        };
        let version = cur.protection.as_ref().map_or(0, |p| p.version);
        if cur.status != IntentStatus::OrderPlaced || version != u.seen_version {
            return Ok(false);
        }
        if let Some(a) = &u.alert {
            if t.alerts.contains_key(&a.alert_id) {
                return Err(StoreError::Unexpected(format!(
                    "outbox row {} exists before its protection step",
                    a.alert_id
                )));
            }
            t.alerts.insert(a.alert_id.clone(), a.clone());
        }
        if let Some(cur) = t.intents.get_mut(&u.key) {
            cur.protection = Some(u.protection.clone());
        }
        let held = t.held.entry(u.symbol.clone()).or_default();
        *held = held.checked_add(u.held_delta).unwrap_or(*held);
        Ok(true)
    }

    async fn take_over(&self, seen: &OrderIntent, lease_until_ms: i64) -> Result<Option<OrderIntent>, StoreError> {
        let mut t = self.lock();
        match t.intents.get_mut(&seen.idempotency_key) {
            Some(cur) if cur.attempt == seen.attempt && !cur.status.is_terminal() => {
                cur.attempt += 1;
                cur.lease_until_ms = lease_until_ms;
                Ok(Some(cur.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn save_owned(&self, intent: &OrderIntent) -> Result<bool, StoreError> {
        let mut t = self.lock();
        match t.intents.get_mut(&intent.idempotency_key) {
            Some(cur) if cur.attempt == intent.attempt => {
                *cur = intent.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl AlertStore for MemoryStore {
    async fn get_many(&self, alert_ids: &[String]) -> Result<Vec<AlertRecord>, StoreError> {
        let t = self.lock();
        Ok(alert_ids.iter().filter_map(|k| t.alerts.get(k).cloned()).collect())
    }

    async fn put_new(&self, alert: &AlertRecord) -> Result<bool, StoreError> {
        let mut t = self.lock();
        if t.alerts.contains_key(&alert.alert_id) {
            return Ok(false);
        }
        t.alerts.insert(alert.alert_id.clone(), alert.clone());
        Ok(true)
    }

    async fn mark_sent(&self, alert_id: &str, telegram_message_id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut t = self.lock();
        let a = t
            .alerts
            .get_mut(alert_id)
            .ok_or_else(|| StoreError::NotFound(format!("alert {alert_id}")))?;
        a.status = crate::outbox::AlertStatus::Sent;
        a.telegram_message_id = Some(telegram_message_id);
        a.sent_at = Some(at);
        a.attempts += 1;
        Ok(())
    }

    async fn mark_failed_attempt(&self, alert_id: &str, error: &str) -> Result<(), StoreError> {
        let mut t = self.lock();
        let a = t
            .alerts
            .get_mut(alert_id)
            .ok_or_else(|| StoreError::NotFound(format!("alert {alert_id}")))?;
        a.attempts += 1;
        a.last_error = Some(error.to_string());
        Ok(())
    }
}

#[async_trait]
impl WatchlistStore for MemoryStore {
    async fn list(&self) -> Result<Vec<WatchlistEntry>, StoreError> {
        Ok(self.lock().watchlist.clone())
    }

    async fn record_emission(
        &self,
        symbol: &crate::ids::Symbol,
        side: crate::ids::Side,
        prev: Option<&crate::market::strategy::Emission>,
        new: &crate::market::strategy::Emission,
    ) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(entry) = t.watchlist.iter_mut().find(|e| &e.symbol == symbol) else {
            return Err(StoreError::NotFound(format!("{symbol} on the watchlist")));
        };
        let slot = match side {
            crate::ids::Side::Buy => &mut entry.last_buy,
            crate::ids::Side::Sell => &mut entry.last_sell,
        };
        let again = slot.as_ref().is_some_and(|e| same_claim(e, new));
        if !again && slot.as_ref().map(|e| e.candle_open_ms) != prev.map(|e| e.candle_open_ms) {
            return Ok(false);
        }
        *slot = Some(new.clone());
        Ok(true)
    }
}

/// The same emission claim written again (a retried write whose first answer was lost).
fn same_claim(stored: &crate::market::strategy::Emission, new: &crate::market::strategy::Emission) -> bool {
    stored.claim_token.is_some() && stored.claim_token == new.claim_token
}

/// A queue that records what was sent.
#[derive(Default, Clone)]
pub struct MemoryQueue {
    sent: Arc<Mutex<Vec<SignalMessage>>>,
}

impl MemoryQueue {
    pub fn sent(&self) -> Vec<SignalMessage> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl SignalQueue for MemoryQueue {
    async fn send(&self, messages: &[SignalMessage]) -> Result<Vec<EnqueueFailure>, StoreError> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(messages);
        Ok(Vec::new())
    }
}

/// A clock whose record time and market time are set by the test.
#[derive(Clone)]
pub struct ManualClock {
    now_ms: Arc<AtomicI64>,
    market_ms: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(now: DateTime<Utc>, market_ms: i64) -> Self {
        Self {
            now_ms: Arc::new(AtomicI64::new(now.timestamp_millis())),
            market_ms: Arc::new(AtomicI64::new(market_ms)),
        }
    }
    pub fn advance_ms(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set_market_ms(&self, ms: i64) {
        self.market_ms.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms.load(Ordering::SeqCst)).unwrap_or_default()
    }
    fn market_now_ms(&self) -> i64 {
        self.market_ms.load(Ordering::SeqCst)
    }
}

/// A notifier that records what it sends, or fails every send while `failing` is set.
#[derive(Default, Clone)]
pub struct MemoryNotifier {
    sent: Arc<Mutex<Vec<String>>>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl MemoryNotifier {
    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl crate::ports::Notifier for MemoryNotifier {
    async fn send(&self, text: &str) -> Result<i64, crate::ports::NotifyError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(crate::ports::NotifyError::Unavailable);
        }
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.push(text.to_string());
        Ok(sent.len() as i64)
    }
}

/// A test builder: an intent for `s` in the given state (attempt 1, not sized), as a crashed or stalled worker would
/// have left it.
pub fn intent(s: &SignalRecord, status: IntentStatus, lease_until: DateTime<Utc>, at: DateTime<Utc>) -> OrderIntent {
    OrderIntent {
        idempotency_key: s.idempotency_key(),
        signal_id: s.signal_id.clone(),
        symbol: s.symbol.clone(),
        side: s.side,
        status,
        mode: crate::order::ExecutionMode::Paper,
        client_oid: s.idempotency_key().client_oid(),
        order_id: None,
        attempt: 1,
        lease_until_ms: lease_until.timestamp_millis(),
        sizing: None,
        error_code: None,
        error_message: None,
        failure_alert_id: None,
        reserved: Vec::new(),
        fill: None,
        protection: None,
        releases: Vec::new(),
        created_at: at,
        updated_at: at,
    }
}

/// A test builder: the intent of an order placed for `s` at `at` (paper, sized at the signal's price with the
/// quote currency at 1 USD), not yet read back from the exchange.
pub fn placed_intent(s: &SignalRecord, at: DateTime<Utc>) -> OrderIntent {
    let mut i = intent(s, IntentStatus::OrderPlaced, at, at);
    i.lease_until_ms = 0;
    i.order_id = Some(format!("order-{}", i.client_oid));
    let quote = crate::money::UsdPrice {
        currency: crate::money::quote_currency(&s.symbol).to_string(),
        usd_per_unit: rust_decimal::Decimal::ONE,
        source: "test".into(),
    };
    i.sizing = crate::money::size_order(s.side, crate::money::Usd(s.trade_amount_usd), s.price, quote, 8).ok();
    i
}

/// A test builder: the decision `code` stands for (its type from the code), decided at `at`, with a placeholder
/// message and correlation id and no order id. Tests change the fields they are about.
pub fn decision(code: crate::decision::ReasonCode, at: DateTime<Utc>) -> crate::decision::Decision {
    crate::decision::Decision {
        decision_type: code.decision_type(),
        reason_code: code,
        reason_message: "x".into(),
        exchange_error_snippet: None,
        context: Default::default(),
        correlation_id: "c".into(),
        decided_at: at,
        order_id: None,
    }
}

/// A test builder: a sent, undecided $100 swing-aggressive signal of `symbol` at `price` for the candle opening at
/// `candle_open_ms`, emitted at `created_at`. Tests change the fields they are about.
pub fn sent_signal(
    symbol: &Symbol,
    side: Side,
    candle_open_ms: i64,
    price: rust_decimal::Decimal,
    created_at: DateTime<Utc>,
) -> SignalRecord {
    SignalRecord {
        signal_id: SignalId::new(symbol, side, candle_open_ms),
        symbol: symbol.clone(),
        side,
        price,
        strategy: "swing-aggressive".into(),
        indicators: Default::default(),
        candle_open_ms,
        created_at,
        blocked: false,
        blocked_reason: None,
        message: format!("{side} SIGNAL: {symbol}"),
        trade_amount_usd: rust_decimal::Decimal::from(100),
        trade_enabled: true,
        notify_order_placed: true,
        alert_status: None,
        alert_message_id: None,
        decision: None,
    }
}

/// What the in-memory exchange answers to the next `create_oco`.
#[derive(Debug, Clone, PartialEq)]
pub enum OcoFate {
    /// Placed, answered.
    Accept,
    /// Refused: nothing placed.
    Reject(String),
    /// Placed, but the answer is lost (a timeout after the request left).
    LoseAnswer,
    /// Refused: the quantity is below one of the exchange's steps.
    BelowStep,
}

#[derive(Default)]
struct Book {
    fates: std::collections::VecDeque<OcoFate>,
    /// Every leg the exchange holds, by client_oid, with its report now.
    legs: HashMap<crate::ids::ClientOid, crate::order::Reported>,
    /// Each leg's quantity.
    sizes: HashMap<crate::ids::ClientOid, rust_decimal::Decimal>,
    /// Which OCO a leg belongs to (its sibling), by client_oid.
    sibling: HashMap<crate::ids::ClientOid, crate::ids::ClientOid>,
    /// Cancels asked for and not yet applied (the exchange cancels asynchronously).
    cancels: Vec<crate::ids::ClientOid>,
    /// Market SELLs (the flatten), filled at once at their reference price.
    sells: HashMap<crate::ids::ClientOid, crate::order::Reported>,
    oco_sends: usize,
    lists: usize,
    /// Market SELLs are refused (an account that cannot sell).
    refuse_sells: bool,
    /// create-oco requests that found their legs already there.
    duplicates: usize,
}

/// An in-memory exchange that knows OCOs (for the protection's tests and the simulation): scripted create-oco
/// outcomes, legs triggered by the test (a fill of one leg cancels its sibling, as a native OCO does), cancels
/// that only take effect when the test says so, market SELLs that fill at once. Entry orders are not its subject:
/// it places and finds none.
#[derive(Default, Clone)]
pub struct OcoExchange {
    book: Arc<Mutex<Book>>,
}

impl OcoExchange {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// The next create-oco answers (after them: Accept).
    pub fn script(&self, fates: impl IntoIterator<Item = OcoFate>) {
        self.lock().fates.extend(fates);
    }
    /// How many create-oco requests arrived, and how many OCOs the exchange holds.
    pub fn oco_counts(&self) -> (usize, usize) {
        let b = self.lock();
        (b.oco_sends, b.lists)
    }
    /// How many create-oco requests found their legs already placed (a resend after a lost answer).
    pub fn duplicates(&self) -> usize {
        self.lock().duplicates
    }
    /// Market SELLs are refused from now on (or accepted again).
    pub fn refuse_sells(&self, refuse: bool) {
        self.lock().refuse_sells = refuse;
    }
    /// How many market SELLs (flattens) were placed.
    pub fn sells(&self) -> usize {
        self.lock().sells.len()
    }
    /// The market reaches a leg: it fills whole at `price` (fee 0.1 % of its value in `fee_currency`), and its sibling,
    /// if still live, is cancelled by the exchange.
    pub fn trigger(&self, oid: &crate::ids::ClientOid, price: rust_decimal::Decimal, fee_currency: &str) {
        let mut b = self.lock();
        let q = b.sizes.get(oid).copied().unwrap_or_default();
        let Some(leg) = b.legs.get_mut(oid) else { return };
        if leg.status.is_terminal() {
            return;
        }
        leg.status = crate::order::OrderStatus::Filled;
        leg.filled_quantity = q;
        leg.average_price = price;
        leg.fee = q
            .checked_mul(price)
            .and_then(|v| v.checked_mul(rust_decimal::Decimal::new(1, 3)))
            .unwrap_or_default()
            .round_dp(8);
        leg.fee_currency = fee_currency.to_string();
        if let Some(other) = b.sibling.get(oid).cloned() {
            if let Some(o) = b.legs.get_mut(&other) {
                if !o.status.is_terminal() {
                    o.status = crate::order::OrderStatus::Canceled;
                }
            }
        }
    }
    /// Applies the cancels asked for so far (a leg that filled meanwhile stays filled).
    pub fn settle_cancels(&self) {
        let mut b = self.lock();
        for oid in std::mem::take(&mut b.cancels) {
            if let Some(l) = b.legs.get_mut(&oid) {
                if !l.status.is_terminal() {
                    l.status = crate::order::OrderStatus::Canceled;
                }
            }
        }
    }
    /// Puts a cancelled leg back to ACTIVE (as if the exchange had not cancelled a filled leg's sibling).
    pub fn revive(&self, oid: &crate::ids::ClientOid) {
        if let Some(l) = self.lock().legs.get_mut(oid) {
            l.status = crate::order::OrderStatus::Active;
        }
    }
    /// The exchange's report of a leg now.
    pub fn leg(&self, oid: &crate::ids::ClientOid) -> Option<crate::order::Reported> {
        self.lock().legs.get(oid).cloned()
    }
}

fn open_leg(symbol: &Symbol) -> crate::order::Reported {
    crate::order::Reported {
        status: crate::order::OrderStatus::Active,
        filled_quantity: rust_decimal::Decimal::ZERO,
        average_price: rust_decimal::Decimal::ZERO,
        fee: rust_decimal::Decimal::ZERO,
        fee_currency: crate::money::quote_currency(symbol).to_string(),
    }
}

#[async_trait]
impl crate::ports::Exchange for OcoExchange {
    async fn usd_price(&self, currency: &str) -> Result<crate::money::UsdPrice, crate::ports::ExchangeError> {
        Ok(crate::money::UsdPrice {
            currency: currency.to_string(),
            usd_per_unit: rust_decimal::Decimal::ONE,
            source: "memory".into(),
        })
    }
    async fn place_order(
        &self,
        req: &crate::ports::OrderRequest,
    ) -> Result<crate::ports::OrderAck, crate::ports::ExchangeError> {
        if self.lock().refuse_sells {
            return Err(crate::ports::ExchangeError::Rejected {
                code: crate::decision::ReasonCode::InsufficientFunds,
                message: "306 INSUFFICIENT_AVAILABLE_BALANCE".into(),
                snippet: "code=306".into(),
            });
        }
        let q = req.quantity.map_or(rust_decimal::Decimal::ZERO, |q| q.0);
        let report = crate::order::Reported {
            status: crate::order::OrderStatus::Filled,
            filled_quantity: q,
            average_price: req.ref_price,
            fee: rust_decimal::Decimal::ZERO,
            fee_currency: crate::money::quote_currency(&req.symbol).to_string(),
        };
        self.lock().sells.entry(req.client_oid.clone()).or_insert(report);
        Ok(crate::ports::OrderAck {
            order_id: format!("sell-{}", req.client_oid),
            client_oid: req.client_oid.clone(),
        })
    }
    async fn find_order(
        &self,
        oid: &crate::ids::ClientOid,
    ) -> Result<crate::ports::Lookup, crate::ports::ExchangeError> {
        Ok(match self.lock().sells.contains_key(oid) {
            true => crate::ports::Lookup::Placed(crate::ports::OrderAck {
                order_id: format!("sell-{oid}"),
                client_oid: oid.clone(),
            }),
            false => crate::ports::Lookup::NotFound,
        })
    }
    async fn order_detail(
        &self,
        order: &crate::order::PlacedOrder,
    ) -> Result<Option<crate::order::Reported>, crate::ports::ExchangeError> {
        Ok(self.lock().sells.get(&order.client_oid).cloned())
    }
    async fn open_orders(&self) -> Result<Vec<crate::order::OpenOrder>, crate::ports::ExchangeError> {
        Ok(Vec::new())
    }
    async fn create_oco(&self, oco: &crate::order::Oco) -> Result<crate::order::OcoAck, crate::ports::ExchangeError> {
        let mut b = self.lock();
        b.oco_sends += 1;
        let fate = b.fates.pop_front().unwrap_or(OcoFate::Accept);
        if let OcoFate::Reject(why) = fate {
            return Err(crate::ports::ExchangeError::Rejected {
                code: crate::decision::ReasonCode::ExchangeRejected,
                message: why,
                snippet: "memory: create-oco rejected".into(),
            });
        }
        if fate == OcoFate::BelowStep {
            return Err(crate::ports::ExchangeError::Rejected {
                code: crate::decision::ReasonCode::BelowMinOrderSize,
                message: "quantity rounds down to 0 at the exchange's step".into(),
                snippet: "memory: below one step".into(),
            });
        }
        let (tp, sl) = (oco.take_profit_oid.clone(), oco.stop_loss_oid.clone());
        if b.legs.contains_key(&tp) || b.legs.contains_key(&sl) {
            b.duplicates += 1;
            // The exchange refuses a client_oid it holds (204 DUPLICATE_CLORDID) and the adapter then finds the
            // legs: nothing new is placed, the answer carries no list id.
            return Ok(crate::order::OcoAck {
                list_id: String::new(),
                quantity: oco.quantity,
                stop_price: oco.stop_price,
                take_profit_price: oco.take_profit_price,
            });
        }
        b.legs.insert(tp.clone(), open_leg(&oco.symbol));
        b.legs.insert(sl.clone(), open_leg(&oco.symbol));
        b.sizes.insert(tp.clone(), oco.quantity);
        b.sizes.insert(sl.clone(), oco.quantity);
        b.sibling.insert(tp.clone(), sl.clone());
        b.sibling.insert(sl, tp);
        b.lists += 1;
        if fate == OcoFate::LoseAnswer {
            return Err(crate::ports::ExchangeError::unknown("timeout after the request left"));
        }
        Ok(crate::order::OcoAck {
            list_id: format!("list-{}", b.lists),
            quantity: oco.quantity,
            stop_price: oco.stop_price,
            take_profit_price: oco.take_profit_price,
        })
    }
    async fn oco_detail(
        &self,
        oco: &crate::order::Oco,
    ) -> Result<crate::order::OcoReport, crate::ports::ExchangeError> {
        let b = self.lock();
        let report = |oid: &crate::ids::ClientOid| b.legs.get(oid).cloned();
        Ok(crate::order::OcoReport {
            take_profit: report(&oco.take_profit_oid),
            stop_loss: report(&oco.stop_loss_oid),
        })
    }
    async fn cancel_leg(
        &self,
        oco: &crate::order::Oco,
        leg: crate::order::Leg,
    ) -> Result<(), crate::ports::ExchangeError> {
        if let Some(oid) = oco.oid(leg) {
            self.lock().cancels.push(oid.clone());
        }
        Ok(())
    }
}
