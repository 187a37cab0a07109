//! Ports: one small trait per capability the functions need. Adapters (DynamoDB, SQS, paper exchange, replay) live
//! in `adapters/`, in-memory fakes with the same conditional semantics in `fakes`. Handlers are generic over these.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::decision::{Decision, ReasonCode};
use crate::ids::{ClientOid, IdempotencyKey, Side, SignalId, Symbol};
use crate::market::candles::{Candle, Timeframe};
use crate::market::strategy::Emission;
use crate::money::{Quantity, QuoteAmount, Usd, UsdPrice};
use crate::order::protection::{ProtectionSettings, ProtectionUpdate};
use crate::order::{FillUpdate, Leg, Oco, OcoAck, OcoReport, OpenOrder, OrderIntent, PlacedOrder, Reported};
use crate::outbox::AlertRecord;
use crate::risk::{Control, CounterDelta, Reservation, RiskLimits, Usage};
use crate::signal::{SignalMessage, SignalRecord};
use crate::watchlist::WatchlistEntry;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A storage call failed. The SDK error is kept as the source, never flattened before a decision is made.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} failed")]
    Backend {
        op: &'static str,
        #[source]
        source: BoxError,
    },
    /// A stored item cannot be read as its record: an attribute missing, of the wrong type, or an unknown value.
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
    /// The row an update needs does not exist (a signal, an alert, a watchlist symbol): nothing was written.
    #[error("not found: {0}")]
    NotFound(String),
    /// The signal already carries a different decision than the one being written: the one-decision rule
    /// (docs/DESIGN.md §5) caught a bug or a forged message; nothing was overwritten.
    #[error("decision conflict: {0}")]
    DecisionConflict(String),
    /// The store answered outside its contract (a failed condition without the stored item it must return).
    #[error("unexpected answer from the store: {0}")]
    Unexpected(String),
}

impl StoreError {
    pub fn backend(op: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            op,
            source: source.into(),
        }
    }
}

/// Result of a conditional "create if absent" write.
#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome<T> {
    Created,
    /// The key existed; this is the stored item as the condition failure returned it (no extra read).
    Exists(T),
}

/// Result of the claim (docs/DESIGN.md §5 step 1).
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This delivery created the intent.
    Created,
    /// The intent existed; this is the stored one as the failed condition returned it (no extra read).
    Exists(Box<OrderIntent>),
    /// The signal row the message names is missing, or says something else than the message (the words say
    /// what): nothing was written. The queue is not the truth; the signal row is.
    SignalMismatch(String),
    /// The control row is not at the version the claim was built from (a halt, a resume, new limits): nothing was
    /// written; this is the row now, to build the claim again from.
    ControlChanged(Box<Control>),
    /// The symbol's watchlist limits are not those the claim was built from: nothing was written; these are the
    /// limits now.
    LimitsChanged(Box<RiskLimits>),
    /// Reservation `index` would pass its limit: nothing was written; `used` is what its counter holds.
    LimitExceeded { index: usize, used: Usage },
}

/// Everything one claim writes or checks, in one transaction (docs/DESIGN.md §5 step 1, §10).
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    pub intent: &'a OrderIntent,
    pub msg: &'a SignalMessage,
    /// The control row must still be at this version (0: absent). None: not checked (no order will be tried).
    pub control_version: Option<u64>,
    /// The message's symbol's watchlist limits must still be these. None: not checked.
    pub symbol_limits: Option<&'a RiskLimits>,
    /// Counters added to, each within its limit.
    pub reservations: &'a [Reservation],
    /// An outbox row written with the intent (a message for an order skipped by a risk limit).
    pub alert: Option<&'a AlertRecord>,
}

impl<'a> ClaimRequest<'a> {
    /// A claim without the risk guard's items: for an intent decided at its claim (no order will be tried).
    pub fn plain(intent: &'a OrderIntent, msg: &'a SignalMessage) -> Self {
        Self {
            intent,
            msg,
            control_version: None,
            symbol_limits: None,
            reservations: &[],
            alert: None,
        }
    }
}

/// Result of the finalize transaction (docs/DESIGN.md §5 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalizeOutcome {
    Committed,
    /// The intent's `attempt` moved on: another worker took over; this worker's result is discarded.
    Fenced,
    /// The signal already carries a different decision.
    DecisionConflict,
    /// The signal row is gone (it existed at the claim): nothing was written; the intent shows as an orphan.
    SignalMissing,
}

/// Everything the finalize transaction writes, atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct Finalization {
    /// The intent in its final state; the write is conditioned on `attempt` being unchanged.
    pub intent: OrderIntent,
    pub signal_id: SignalId,
    pub decision: Decision,
    /// The outbox row of the order's Telegram message: ORDER FAILED for failures, ORDER PLACED for placed orders
    /// when the symbol asks for it.
    pub alert: Option<AlertRecord>,
    /// Added to the risk counters: the claim's reservation released, or a placed SELL taken off the exposure.
    pub counters: Vec<CounterDelta>,
}

/// The storage ports as one bundle: what a step or a handler writes and reads goes through these. One store usually
/// holds them all (`Stores::of`: the DynamoDB tables, or the in-memory store); a test puts a wrapper in front of one
/// with struct update syntax (`Stores { intents: &slow, ..Stores::of(&memory) }`).
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    pub signals: &'a dyn SignalStore,
    pub intents: &'a dyn IntentStore,
    pub alerts: &'a dyn AlertStore,
    pub control: &'a dyn ControlStore,
    pub watchlist: &'a dyn WatchlistStore,
}

/// A store that holds all five tables (the DynamoDB adapter, the in-memory store).
pub trait Store: SignalStore + IntentStore + AlertStore + ControlStore + WatchlistStore {}
impl<S: SignalStore + IntentStore + AlertStore + ControlStore + WatchlistStore> Store for S {}

impl<'a> Stores<'a> {
    pub fn of<S: Store>(store: &'a S) -> Self {
        Stores {
            signals: store,
            intents: store,
            alerts: store,
            control: store,
            watchlist: store,
        }
    }
}

#[async_trait]
pub trait SignalStore: Send + Sync {
    /// Conditional put on `signal_id`: one row per signal, ever.
    async fn put_new(&self, signal: &SignalRecord) -> Result<PutOutcome<SignalRecord>, StoreError>;
    /// Signals (sent and blocked) created in `[since, until]`, newest first, through the `by_day` index.
    async fn created_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<SignalRecord>, StoreError>;
    /// The newest sent signals (`blocked = false`, of `side` when given) created in `[since, until]`, at most `limit`.
    async fn recent_sent(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        side: Option<Side>,
        limit: Option<usize>,
    ) -> Result<Vec<SignalRecord>, StoreError>;
    /// The signals with these ids that exist (any order).
    async fn get_signals(&self, ids: &[SignalId]) -> Result<Vec<SignalRecord>, StoreError>;
    /// Writes the decision trace when the signal has none, or the same one already. Ok(false): a different one exists.
    async fn record_decision(
        &self,
        signal_id: &SignalId,
        key: &IdempotencyKey,
        d: &Decision,
    ) -> Result<bool, StoreError>;
    /// Records the signal alert's delivery on the signal: `alert_status` (SENT or FAILED) and `alert_message_id`.
    async fn record_alert(&self, signal_id: &SignalId, sent_message_id: Option<i64>) -> Result<(), StoreError>;
}

#[async_trait]
pub trait IntentStore: Send + Sync {
    /// One atomic write: a check that the signal row exists and agrees with the message (see
    /// [`SignalMessage::disagreements`]), the conditional put of the intent on `idempotency_key` (returning the
    /// stored intent on conflict), the control row's version check and the counters' reservations.
    async fn claim(&self, req: ClaimRequest<'_>) -> Result<Claim, StoreError>;
    async fn get_many(&self, keys: &[IdempotencyKey]) -> Result<Vec<OrderIntent>, StoreError>;
    /// Every placed order whose fill is not final yet, whatever its age (the `open_fills` index: an intent is in it
    /// from its ORDER_PLACED write until a final fill is recorded), so the reconciler follows an order however long
    /// it stays open.
    async fn open_orders(&self) -> Result<Vec<OrderIntent>, StoreError>;
    /// Intents created in `[since, until]`, through the `by_day` index (any order).
    async fn intents_created_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<OrderIntent>, StoreError>;
    /// One transaction: intent (condition `attempt` unchanged) + signal decision (+ the order message's outbox row).
    /// An outbox row that already exists is left as it is (its message is already on its way); the rest commits.
    async fn finalize(&self, f: &Finalization) -> Result<FinalizeOutcome, StoreError>;
    /// Takes a stale intent over: `attempt = seen.attempt` → `attempt + 1` with a new lease, in one conditional
    /// update, only while the intent is not terminal. None: another worker moved first, or it was decided meanwhile
    /// (the next delivery finds it terminal).
    async fn take_over(&self, seen: &OrderIntent, lease_until_ms: i64) -> Result<Option<OrderIntent>, StoreError>;
    /// Records a fill report (docs/DESIGN.md §13) in one transaction: the intent's fill on the condition that the
    /// recorded fill is still at `seen_version` and the intent is ORDER_PLACED, the increment's ORDER EXECUTED outbox
    /// row, and the change of the symbol's held quantity. Ok(false): another reader recorded first (nothing written).
    async fn record_fill(&self, update: &FillUpdate) -> Result<bool, StoreError>;
    /// Rewrites a non-terminal intent this worker owns (UNKNOWN after an ambiguous send; the time of a resend),
    /// conditioned on `attempt` being unchanged. false: fenced off.
    async fn save_owned(&self, intent: &OrderIntent) -> Result<bool, StoreError>;
    /// Records a protection step (docs/DESIGN.md §14) in one transaction: the entry's protection on the condition
    /// that the stored one is still at `seen_version` (absent for 0) and the intent is ORDER_PLACED, the step's
    /// outbox row, and the change of the symbol's held quantity. An entry stays in the `open_fills` index until its
    /// protection is final. Ok(false): another worker wrote first (nothing written).
    async fn record_protection(&self, update: &ProtectionUpdate) -> Result<bool, StoreError>;
}

/// The control row, the risk counters and the per-symbol limits (docs/DESIGN.md §11).
#[async_trait]
pub trait ControlStore: Send + Sync {
    /// The control row; [`Control::default`] (version 0) when there is none.
    async fn control(&self) -> Result<Control, StoreError>;
    /// Writes `next` as version `seen + 1` if the row is still at version `seen`. Ok(false): it moved on.
    async fn replace_control(&self, seen: u64, next: &Control) -> Result<bool, StoreError>;
    /// What a counter holds (zero when it does not exist).
    async fn usage(&self, key: &str) -> Result<Usage, StoreError>;
    /// The symbol's limits from its watchlist row (none when the row is gone).
    async fn symbol_limits(&self, symbol: &Symbol) -> Result<RiskLimits, StoreError>;
    /// The run of consecutive account failures after one more order outcome: +1 for a failure, 0 for a success.
    async fn record_streak(&self, failed: bool) -> Result<u32, StoreError>;
    /// The watchlist row's `sell_held_elsewhere` (false when the row is gone): a SELL may sell the configured amount
    /// beyond what this system's fills hold.
    async fn sells_held_elsewhere(&self, symbol: &Symbol) -> Result<bool, StoreError>;
    /// The symbol's protection settings from its watchlist row ([`WatchlistEntry::protection_settings`]; the
    /// defaults when the row is gone: protection on).
    async fn protection_settings(&self, symbol: &Symbol) -> Result<ProtectionSettings, StoreError>;
    /// The base quantity the system's own fills hold for `symbol` (`position#{symbol}`; zero when none).
    async fn held(&self, symbol: &Symbol) -> Result<Decimal, StoreError>;
    /// The ghost orders the last reconciliation found (open on the exchange with this system's client_oid form, no
    /// intent), and when it looked; empty and None before any look.
    async fn ghost_orders(&self) -> Result<(Vec<OpenOrder>, Option<DateTime<Utc>>), StoreError>;
    /// Replaces the ghost orders found by a reconciliation (a snapshot: the last look wins).
    async fn record_ghost_orders(&self, ghosts: &[OpenOrder], at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Marks a Telegram update as handled. Ok(false): it was handled before (Telegram retries webhooks).
    async fn first_update(&self, update_id: i64, at: DateTime<Utc>) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    async fn get_many(&self, alert_ids: &[String]) -> Result<Vec<AlertRecord>, StoreError>;
    /// Creates an outbox row unless one with its id exists. Ok(false): it existed.
    async fn put_new(&self, alert: &AlertRecord) -> Result<bool, StoreError>;
    /// Records a delivered alert (status SENT, the Telegram message id, sent_at, attempts + 1).
    async fn mark_sent(&self, alert_id: &str, telegram_message_id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records a failed delivery; the row stays PENDING for the sweeper (attempts + 1, last_error).
    async fn mark_failed_attempt(&self, alert_id: &str, error: &str) -> Result<(), StoreError>;
}

#[async_trait]
pub trait WatchlistStore: Send + Sync {
    async fn list(&self) -> Result<Vec<WatchlistEntry>, StoreError>;
    /// Records a sent signal as the symbol's last of its side, on the condition that the last one is still `prev`
    /// (None: there was none). Ok(false): another run recorded one first.
    async fn record_emission(
        &self,
        symbol: &Symbol,
        side: Side,
        prev: Option<&Emission>,
        new: &Emission,
    ) -> Result<bool, StoreError>;
}

/// One entry of a batch send that the queue refused.
#[derive(Debug, Clone, PartialEq)]
pub struct EnqueueFailure {
    pub signal_id: SignalId,
    pub reason: String,
}

#[async_trait]
pub trait SignalQueue: Send + Sync {
    /// Sends all messages (in batches the queue accepts); returns the entries that were not accepted.
    async fn send(&self, messages: &[SignalMessage]) -> Result<Vec<EnqueueFailure>, StoreError>;
}

/// A market order as the exchange receives it: BUY by notional (in the quote currency), SELL by quantity (of the
/// base asset), sized by [`crate::money::size_order`].
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRequest {
    pub symbol: Symbol,
    pub side: Side,
    pub client_oid: ClientOid,
    pub notional: Option<QuoteAmount>,
    pub quantity: Option<Quantity>,
    /// The signal's price (quote currency per base unit): what paper fills at, and what sizing used.
    pub ref_price: Decimal,
    /// The order's value in USD as sized: what minimum-notional checks compare with (like with like).
    pub usd_value: Usd,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderAck {
    pub order_id: String,
    pub client_oid: ClientOid,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExchangeError {
    /// The exchange definitively refused the order: nothing was placed.
    #[error("{code}: {message}")]
    Rejected {
        code: ReasonCode,
        message: String,
        snippet: String,
    },
    /// The request may or may not have been accepted (timeout after sending, 5xx, reset): reconcile by client_oid.
    #[error("outcome unknown: {reason}")]
    Unknown {
        reason: String,
        #[source]
        cause: Option<Cause>,
    },
    /// Nothing reached the exchange (connection refused, reference data unavailable): try again later.
    #[error("not sent: {reason}")]
    NotSent {
        reason: String,
        #[source]
        cause: Option<Cause>,
    },
}

impl ExchangeError {
    pub fn unknown(reason: impl Into<String>) -> Self {
        Self::Unknown {
            reason: reason.into(),
            cause: None,
        }
    }

    pub fn not_sent(reason: impl Into<String>) -> Self {
        Self::NotSent {
            reason: reason.into(),
            cause: None,
        }
    }
}

/// The error under an exchange failure (a transport error, say), kept as its source for the error chain. Compared
/// by its text, so that `ExchangeError` stays `Clone + PartialEq` (scripted faults in tests and the simulation).
#[derive(Debug, Clone)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(error))
    }

    /// The error and each of its sources, `: `-separated (for the log).
    pub fn chain(&self) -> String {
        let mut text = self.0.to_string();
        let mut next = self.0.source();
        while let Some(e) = next {
            text.push_str(": ");
            text.push_str(&e.to_string());
            next = e.source();
        }
        text
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

/// What the exchange knows about an order looked up by client_oid.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The order exists and was not rejected (open, filled, or canceled after a fill).
    Placed(OrderAck),
    /// The order exists but the exchange rejected it, or canceled it unfilled.
    Rejected {
        code: ReasonCode,
        message: String,
        snippet: String,
    },
    NotFound,
}

#[async_trait]
pub trait Exchange: Send + Sync {
    /// The USD price of one unit of `currency` now (a pair's quote currency; USD-pegged ones are never asked),
    /// with its source. `Rejected`: the exchange has no such price.
    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError>;
    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError>;
    async fn find_order(&self, client_oid: &ClientOid) -> Result<Lookup, ExchangeError>;
    /// What the exchange reports about a placed order now (`private/get-order-detail` by client_oid): its status,
    /// cumulative filled quantity, average price and fee. Ok(None): the exchange does not know the order.
    async fn order_detail(&self, order: &PlacedOrder) -> Result<Option<Reported>, ExchangeError>;
    /// Every order the exchange holds open for the account (`private/get-open-orders`, all instruments).
    async fn open_orders(&self) -> Result<Vec<OpenOrder>, ExchangeError>;
    /// Places a protective OCO (`private/advanced/create-oco`: a take-profit LIMIT and a stop leg, each with its
    /// client_oid), its prices rounded to the instrument's tick in the safe direction and its quantity down to the
    /// step; answers with the list id and what was sent. An exchange without it refuses (nothing is placed).
    async fn create_oco(&self, oco: &Oco) -> Result<OcoAck, ExchangeError> {
        Err(unsupported(&oco.symbol, "create-oco"))
    }
    /// What the exchange reports about both legs of an OCO now (`private/advanced/get-order-detail` by each leg's
    /// client_oid); a leg the exchange does not know is None.
    async fn oco_detail(&self, oco: &Oco) -> Result<OcoReport, ExchangeError> {
        Err(unsupported(&oco.symbol, "advanced/get-order-detail"))
    }
    /// Asks the exchange to cancel one leg (`private/advanced/cancel-order` by client_oid). Asynchronous: the leg
    /// may still fill; [`Exchange::oco_detail`] confirms. A leg already final is not an error.
    async fn cancel_leg(&self, oco: &Oco, leg: Leg) -> Result<(), ExchangeError> {
        let _ = leg;
        Err(unsupported(&oco.symbol, "advanced/cancel-order"))
    }
}

fn unsupported(symbol: &Symbol, method: &str) -> ExchangeError {
    ExchangeError::Rejected {
        code: ReasonCode::ExchangeRejected,
        message: format!("this exchange has no {method} ({symbol})"),
        snippet: format!("unsupported: {method}"),
    }
}

/// Market prices now, from the exchange's public tickers (no credentials): what a position is worth when someone
/// asks (`/positions`), never a number the ledger records.
#[async_trait]
pub trait Prices: Send + Sync {
    /// The last trade price of `symbol`, in its quote currency.
    async fn last_price(&self, symbol: &Symbol) -> Result<Decimal, ExchangeError>;
    /// The USD price of one unit of `currency` now, with its source.
    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError>;
}

/// Why a message was not delivered. Every variant is "not delivered": the outbox row stays PENDING for the sweeper.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The request did not complete; `kind` says how (timeout, connection failed, transport error). The source
    /// never holds the request URL (the bot token is part of it).
    #[error("telegram: sendMessage: {kind}")]
    Transport {
        kind: &'static str,
        #[source]
        source: BoxError,
    },
    /// Telegram answered without delivering: its HTTP status and words.
    #[error("telegram: {0}")]
    Refused(String),
    /// Rate limited for longer than the adapter waits.
    #[error("telegram: sendMessage: HTTP 429, retry_after {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// The notifier is not reachable at all (the in-memory notifier's outage).
    #[error("telegram unavailable")]
    Unavailable,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends a message; returns the Telegram message id.
    async fn send(&self, text: &str) -> Result<i64, NotifyError>;
}

#[derive(Debug, thiserror::Error)]
pub enum MarketDataError {
    #[error("no market data for {0}")]
    UnknownSymbol(Symbol),
    #[error("market data for {symbol} unusable: {reason}")]
    Malformed { symbol: Symbol, reason: String },
}

#[async_trait]
pub trait MarketData: Send + Sync {
    /// Up to `count` candles of `tf` that closed at or before `as_of_ms`, oldest first.
    async fn closed_candles(
        &self,
        symbol: &Symbol,
        tf: Timeframe,
        count: usize,
        as_of_ms: i64,
    ) -> Result<Vec<Candle>, MarketDataError>;
}

/// The two clocks of docs/DESIGN.md §2.
pub trait Clock: Send + Sync {
    /// Record time: always the wall clock of the writing process.
    fn now(&self) -> DateTime<Utc>;
    /// Market time: the strategy's clock (simulated when replaying history).
    fn market_now_ms(&self) -> i64;
}
