//! Records and wire vocabulary of docs/DESIGN.md §3, §4 and §6: the signal, its order intent, the failure alert, the
//! watchlist row, the SQS message, and the decision trace's codes. Every wire string is defined here once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::candles::Timeframe;
use crate::ids::{ClientOid, IdempotencyKey, Side, SignalId, Symbol};
use crate::indicators::RsiMethod;
use crate::money::Sizing;
use crate::order::Fill;
use crate::risk::{CounterDelta, RiskLimits};
use crate::strategy::Preset;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $wire)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// `decision_type` on a signal.
    DecisionType { Executed = "EXECUTED", Failed = "FAILED", Skipped = "SKIPPED" }
);

wire_enum!(
    /// `reason_code` on a signal (docs/DESIGN.md §6).
    ReasonCode {
        ExecOrderPlaced = "EXEC_ORDER_PLACED",
        AuthenticationError = "AUTHENTICATION_ERROR",
        InsufficientFunds = "INSUFFICIENT_FUNDS",
        RateLimit = "RATE_LIMIT",
        Timeout = "TIMEOUT",
        MinNotionalNotMet = "MIN_NOTIONAL_NOT_MET",
        BelowMinOrderSize = "BELOW_MIN_ORDER_SIZE",
        SignatureError = "SIGNATURE_ERROR",
        ExchangeRejected = "EXCHANGE_REJECTED",
        ExchangeErrorUnknown = "EXCHANGE_ERROR_UNKNOWN",
        IdempotencyBlocked = "IDEMPOTENCY_BLOCKED",
        OrderBlockedLiveTrading = "ORDER_BLOCKED_LIVE_TRADING",
        TradeDisabled = "TRADE_DISABLED",
        InvalidTradeAmount = "INVALID_TRADE_AMOUNT",
        QuoteConversionUnavailable = "QUOTE_CONVERSION_UNAVAILABLE",
        StaleSignal = "STALE_SIGNAL",
        DataMissing = "DATA_MISSING",
        GuardrailBlocked = "GUARDRAIL_BLOCKED",
        RiskLimitExceeded = "RISK_LIMIT_EXCEEDED",
        TradingHalted = "TRADING_HALTED",
        SellRequiresPosition = "SELL_REQUIRES_POSITION",
    }
);

impl ReasonCode {
    /// A SKIPPED decision with this code is told on Telegram (ORDER SKIPPED, its outbox row written with the
    /// decision, resent by the sweeper): the signal was alerted as tradable and then no order followed — held back
    /// by a limit or by the halt, or a SELL with nothing to sell.
    pub fn has_skipped_message(self) -> bool {
        matches!(
            self,
            ReasonCode::RiskLimitExceeded | ReasonCode::TradingHalted | ReasonCode::SellRequiresPosition
        )
    }

    /// The decision type a code belongs to (§6 groups them).
    pub fn decision_type(self) -> DecisionType {
        use ReasonCode::*;
        match self {
            ExecOrderPlaced => DecisionType::Executed,
            IdempotencyBlocked
            | OrderBlockedLiveTrading
            | TradeDisabled
            | InvalidTradeAmount
            | StaleSignal
            | DataMissing
            | GuardrailBlocked
            | RiskLimitExceeded
            | TradingHalted
            | SellRequiresPosition => DecisionType::Skipped,
            _ => DecisionType::Failed,
        }
    }
}

wire_enum!(
    /// `status` of an order intent. PENDING and UNKNOWN are the only non-terminal ones.
    IntentStatus {
        Pending = "PENDING",
        Unknown = "UNKNOWN",
        OrderPlaced = "ORDER_PLACED",
        OrderFailed = "ORDER_FAILED",
        BlockedLiveTrading = "BLOCKED_LIVE_TRADING",
        Skipped = "SKIPPED",
    }
);

impl IntentStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, IntentStatus::Pending | IntentStatus::Unknown)
    }
}

wire_enum!(
    /// How orders are handled, fixed at init (docs/DESIGN.md §7), and the `mode` an order intent records: `Live`
    /// (LIVE_TRADING on: orders go to the exchange), `Paper` (LIVE_TRADING off, PAPER_TRADING on: the paper
    /// exchange), `Blocked` (neither: no order; the claim itself records BLOCKED_LIVE_TRADING).
    ExecutionMode { Live = "LIVE", Paper = "PAPER", Blocked = "BLOCKED" }
);

wire_enum!(
    /// `status` of an alerts outbox row.
    AlertStatus { Pending = "PENDING", Sent = "SENT", Failed = "FAILED" }
);

wire_enum!(
    /// `alert_status` of a signal: how its BUY/SELL SIGNAL alert went (BLOCKED: held back, never sent).
    SignalAlertStatus { Sent = "SENT", Failed = "FAILED", Blocked = "BLOCKED" }
);

impl SignalAlertStatus {
    /// The status a delivery attempt leaves: SENT with a Telegram message id, FAILED without one.
    pub fn of_delivery(sent_message_id: Option<i64>) -> Self {
        if sent_message_id.is_some() {
            Self::Sent
        } else {
            Self::Failed
        }
    }
}

wire_enum!(
    /// `kind` of an alerts outbox row.
    AlertKind {
        Signal = "SIGNAL",
        OrderFailed = "ORDER_FAILED",
        OrderPlaced = "ORDER_PLACED",
        OrderSkipped = "ORDER_SKIPPED",
        OrderExecuted = "ORDER_EXECUTED",
        ProtectionPlaced = "PROTECTION_PLACED",
        ProtectionFailed = "PROTECTION_FAILED",
        ProtectionClosed = "PROTECTION_CLOSED",
    }
);

wire_enum!(
    /// `blocked_reason` of a signal that was never sent.
    BlockedReason {
        ThrottledDuplicateAlert = "THROTTLED_DUPLICATE_ALERT",
        AlertsDisabled = "ALERTS_DISABLED",
        DataMissing = "DATA_MISSING",
    }
);

/// The decision trace written once per signal (docs/DESIGN.md §6).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub decision_type: DecisionType,
    pub reason_code: ReasonCode,
    pub reason_message: String,
    pub exchange_error_snippet: Option<String>,
    pub context: BTreeMap<String, String>,
    pub correlation_id: String,
    pub decided_at: DateTime<Utc>,
    pub order_id: Option<String>,
}

impl Decision {
    /// Two traces are "the same decision" when type and code agree: the redelivery path may rebuild the message text
    /// at another time, and must still be accepted by the "no decision yet, or the same one" condition.
    pub fn same_outcome(&self, other: &Decision) -> bool {
        self.decision_type == other.decision_type && self.reason_code == other.reason_code
    }
}

/// A row of the signals table.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRecord {
    pub signal_id: SignalId,
    pub symbol: Symbol,
    pub side: Side,
    pub price: Decimal,
    pub strategy: String,
    pub indicators: BTreeMap<String, f64>,
    pub candle_open_ms: i64,
    pub created_at: DateTime<Utc>,
    pub blocked: bool,
    pub blocked_reason: Option<BlockedReason>,
    pub message: String,
    pub trade_amount_usd: Decimal,
    /// The watchlist's `trade_enabled` when the signal was emitted: off → the orchestrator records TRADE_DISABLED.
    pub trade_enabled: bool,
    /// The watchlist's `notify_order_placed` when the signal was emitted: an ORDER PLACED confirmation on Telegram.
    pub notify_order_placed: bool,
    /// `alert_status`: SENT or FAILED once the BUY/SELL SIGNAL alert was tried, BLOCKED for a held-back signal.
    pub alert_status: Option<SignalAlertStatus>,
    pub alert_message_id: Option<i64>,
    pub decision: Option<Decision>,
}

impl SignalRecord {
    pub fn idempotency_key(&self) -> IdempotencyKey {
        IdempotencyKey::for_signal(&self.signal_id)
    }

    /// `day` attribute: partition key of the `by_day` index.
    pub fn day(&self) -> String {
        day_of(self.created_at)
    }

    /// The queue message of this signal. `emitted_at` is the signal's `created_at` — also when the evaluator or the
    /// sweeper sends it again — so the orchestrator's freshness check measures the signal's real age.
    pub fn to_message(&self) -> SignalMessage {
        SignalMessage {
            version: SignalMessage::VERSION,
            signal_id: self.signal_id.clone(),
            idempotency_key: self.idempotency_key(),
            symbol: self.symbol.clone(),
            side: self.side,
            price: self.price,
            strategy: self.strategy.clone(),
            trade_amount_usd: self.trade_amount_usd,
            trade_enabled: self.trade_enabled,
            notify_order_placed: self.notify_order_placed,
            emitted_at: self.created_at,
        }
    }
}

/// `YYYY-MM-DD` of a record time (UTC).
pub fn day_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// RFC 3339 with milliseconds, `Z` suffix: sorts lexicographically in time order, which the `by_day` index relies on.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A row of the order_intents table.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderIntent {
    pub idempotency_key: IdempotencyKey,
    pub signal_id: SignalId,
    pub symbol: Symbol,
    pub side: Side,
    pub status: IntentStatus,
    pub mode: ExecutionMode,
    /// Derived from the key ([`IdempotencyKey::client_oid`]); stored so that the exchange's orders can be matched.
    pub client_oid: ClientOid,
    pub order_id: Option<String>,
    pub attempt: u32,
    pub lease_until_ms: i64,
    /// How the order was sized (USD amount, conversion rate and source, quote notional, quantity, USD value):
    /// recorded before the first send, reused by every resend.
    pub sizing: Option<Sizing>,
    pub error_code: Option<ReasonCode>,
    pub error_message: Option<String>,
    pub failure_alert_id: Option<String>,
    /// What the claim added to the risk counters (docs/DESIGN.md §11): released when the order ends without one.
    pub reserved: Vec<CounterDelta>,
    /// What the exchange last reported about the placed order (docs/DESIGN.md §13); None until first read.
    pub fill: Option<Fill>,
    /// A filled BUY's stop-loss and take-profit (docs/DESIGN.md §14); None until the protector first looks.
    pub protection: Option<crate::order::Protection>,
    /// A SELL's: the protected entries of its symbol it takes off their stops, recorded before their cancel is
    /// asked (docs/DESIGN.md §14). A SELL with any sells all that is held, on every delivery.
    pub releases: Vec<IdempotencyKey>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of the alerts table (Telegram outbox and log).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub alert_id: String,
    pub kind: AlertKind,
    pub symbol: Symbol,
    pub side: Side,
    pub text: String,
    pub status: AlertStatus,
    pub telegram_message_id: Option<i64>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Which message an outbox row is: of which signal or order. Its stored form (`placed:{key}`) is rendered by
/// `Display` and read back by [`AlertId::parse`], here only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertId {
    /// The BUY/SELL SIGNAL alert.
    Signal(SignalId),
    Placed(IdempotencyKey),
    Skipped(IdempotencyKey),
    Failure(IdempotencyKey),
    /// One ORDER EXECUTED row per fill increment, numbered from 1 ([`crate::order::Fill::increments`]): an
    /// increment has one id whoever records it, and the sweeper finds every row of an order from its intent.
    Executed(IdempotencyKey, u32),
    /// A filled BUY's protection messages: SL/TP PLACED, PROTECTION FAILED, and the exit (TAKE PROFIT HIT, STOP
    /// LOSS HIT, POSITION CLOSED), each once per entry.
    Protection(IdempotencyKey, ProtectionEvent),
}

wire_enum!(
    /// Which protection message of an entry (the last part of `protection:{key}:{event}`).
    ProtectionEvent { Placed = "placed", Failed = "failed", Closed = "closed" }
);

impl std::fmt::Display for AlertId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlertId::Signal(id) => write!(f, "signal:{id}"),
            AlertId::Placed(key) => write!(f, "placed:{key}"),
            AlertId::Skipped(key) => write!(f, "skipped:{key}"),
            AlertId::Failure(key) => write!(f, "failure:{key}"),
            AlertId::Executed(key, increment) => write!(f, "executed:{key}:{increment}"),
            AlertId::Protection(key, event) => write!(f, "protection:{key}:{event}"),
        }
    }
}

impl AlertId {
    /// The id of a stored form; None for anything else.
    pub fn parse(raw: &str) -> Option<AlertId> {
        let (kind, rest) = raw.split_once(':')?;
        let key = |k: &str| IdempotencyKey::parse(k).ok();
        let id = match kind {
            "signal" => AlertId::Signal(SignalId::parse(rest).ok()?),
            "placed" => AlertId::Placed(key(rest)?),
            "skipped" => AlertId::Skipped(key(rest)?),
            "failure" => AlertId::Failure(key(rest)?),
            "executed" => {
                let (k, increment) = rest.rsplit_once(':')?;
                AlertId::Executed(key(k)?, increment.parse().ok()?)
            }
            "protection" => {
                let (k, event) = rest.rsplit_once(':')?;
                AlertId::Protection(key(k)?, ProtectionEvent::parse(event)?)
            }
            _ => return None,
        };
        // Only the canonical form: what parses renders back to the same text.
        (id.to_string() == raw).then_some(id)
    }
}

impl AlertRecord {
    pub fn failure_id(key: &IdempotencyKey) -> String {
        AlertId::Failure(key.clone()).to_string()
    }
    pub fn placed_id(key: &IdempotencyKey) -> String {
        AlertId::Placed(key.clone()).to_string()
    }
    pub fn skipped_id(key: &IdempotencyKey) -> String {
        AlertId::Skipped(key.clone()).to_string()
    }
    /// See [`AlertId::Executed`].
    pub fn executed_id(key: &IdempotencyKey, increment: u32) -> String {
        AlertId::Executed(key.clone(), increment).to_string()
    }

    pub fn signal_id(signal_id: &SignalId) -> String {
        AlertId::Signal(signal_id.clone()).to_string()
    }
}

/// A row of the watchlist table: per-symbol configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchlistEntry {
    pub symbol: Symbol,
    #[serde(default = "yes")]
    pub alert_enabled: bool,
    #[serde(default = "yes")]
    pub trade_enabled: bool,
    /// An ORDER PLACED confirmation on Telegram for each order of this symbol (default on).
    #[serde(default = "yes")]
    pub notify_order_placed: bool,
    #[serde(default = "default_trade_amount", with = "rust_decimal::serde::str")]
    pub trade_amount_usd: Decimal,
    #[serde(default = "default_preset")]
    pub preset: Setting<&'static Preset>,
    #[serde(default)]
    pub min_price_change_pct: Option<f64>,
    #[serde(default)]
    pub cooldown_minutes: Option<f64>,
    /// Per-symbol overrides of the preset: BUY only at or under this price; another volume minimum; another timeframe.
    #[serde(default)]
    pub buy_target: Option<f64>,
    #[serde(default)]
    pub volume_min_ratio: Option<f64>,
    #[serde(default)]
    pub timeframe: Option<Setting<Timeframe>>,
    /// `simple` (default, the original's) or `wilder`.
    #[serde(default)]
    pub rsi_method: Option<Setting<RsiMethod>>,
    /// A SELL sells the configured amount (`trade_amount_usd` at the signal's price) even beyond what this system's
    /// fills hold: for an account that holds coins bought elsewhere (default off: a SELL sells at most what is held,
    /// docs/DESIGN.md §13). Read by the orchestrator when it sizes a SELL.
    #[serde(default)]
    pub sell_held_elsewhere: bool,
    /// A stop-loss and a take-profit on the exchange after each filled BUY (default on; docs/DESIGN.md §14). Written
    /// `true`/`false` or `"on"`/`"off"`.
    #[serde(default = "yes", deserialize_with = "on_off")]
    pub protection: bool,
    /// Percent under the average fill price for the stop; default the preset's (3 conservative, 2 aggressive).
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub sl_percentage: Option<Decimal>,
    /// Percent over the average fill price for the take-profit; default the preset's.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub tp_percentage: Option<Decimal>,
    /// `flatten` (default: close the position with a market SELL when no stop can be placed) or `alert`.
    #[serde(default)]
    pub on_protection_failure: Option<Setting<crate::order::protection::OnFailure>>,
    /// Per-symbol risk limits (docs/DESIGN.md §11), read by the orchestrator at each claim.
    #[serde(flatten)]
    pub limits: RiskLimits,
    /// Throttle state (not configuration): the last sent BUY and SELL of this symbol.
    #[serde(skip)]
    pub last_buy: Option<Emission>,
    #[serde(skip)]
    pub last_sell: Option<Emission>,
}

impl WatchlistEntry {
    /// A row for `symbol` with every setting at its default (the same defaults a stored row without them reads as).
    pub fn new(symbol: Symbol) -> Self {
        Self {
            symbol,
            alert_enabled: yes(),
            trade_enabled: yes(),
            notify_order_placed: yes(),
            trade_amount_usd: default_trade_amount(),
            preset: default_preset(),
            min_price_change_pct: None,
            cooldown_minutes: None,
            buy_target: None,
            volume_min_ratio: None,
            timeframe: None,
            rsi_method: None,
            sell_held_elsewhere: false,
            protection: yes(),
            sl_percentage: None,
            tp_percentage: None,
            on_protection_failure: None,
            limits: RiskLimits::default(),
            last_buy: None,
            last_sell: None,
        }
    }

    pub fn last(&self, side: Side) -> Option<&Emission> {
        match side {
            Side::Buy => self.last_buy.as_ref(),
            Side::Sell => self.last_sell.as_ref(),
        }
    }

    /// Everything wrong with this row's configuration, each in words an operator can act on (empty: valid).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let s = &self.symbol;
        if let Setting::Invalid(raw) = &self.preset {
            let names: Vec<&str> = crate::strategy::PRESETS.iter().map(|p| p.name).collect();
            out.push(format!("{s}: preset {raw:?} is not one of {}", names.join(", ")));
        }
        if self.trade_amount_usd <= Decimal::ZERO {
            out.push(format!(
                "{s}: trade_amount_usd {} must be more than 0",
                self.trade_amount_usd
            ));
        }
        if let Some(Setting::Invalid(tf)) = &self.timeframe {
            out.push(format!(
                "{s}: timeframe {tf:?} is not one of 1m 5m 15m 30m 1h 2h 4h 12h 1D"
            ));
        }
        if let Some(Setting::Invalid(m)) = &self.rsi_method {
            out.push(format!("{s}: rsi_method {m:?} is neither simple nor wilder"));
        }
        let numbers = [
            ("min_price_change_pct", self.min_price_change_pct, false),
            ("cooldown_minutes", self.cooldown_minutes, false),
            ("buy_target", self.buy_target, true),
            ("volume_min_ratio", self.volume_min_ratio, false),
        ];
        for (name, value, positive) in numbers {
            if let Some(v) = value.filter(|v| !v.is_finite() || *v < 0.0 || (positive && *v == 0.0)) {
                let bound = if positive { "more than 0" } else { "0 or more" };
                out.push(format!("{s}: {name} {v} must be a number, {bound}"));
            }
        }
        out.extend(self.limits.problems(s.as_str()));
        for (name, pct) in [
            ("sl_percentage", self.sl_percentage),
            ("tp_percentage", self.tp_percentage),
        ] {
            if let Some(v) = pct.filter(|v| *v <= Decimal::ZERO || *v >= Decimal::from(50)) {
                out.push(format!("{s}: {name} {v} must be more than 0 and under 50 (percent)"));
            }
        }
        if let Some(Setting::Invalid(m)) = &self.on_protection_failure {
            out.push(format!("{s}: on_protection_failure {m:?} is neither flatten nor alert"));
        }
        out
    }

    /// The protection settings of this row: its own percentages, else its preset's; a setting that names nothing
    /// (or a preset that names nothing) falls back to the safe default — protection stays on, failures flatten.
    pub fn protection_settings(&self) -> crate::order::protection::ProtectionSettings {
        let preset_pct = self
            .preset
            .valid()
            .map_or(crate::strategy::DEFAULT_PRESET.protection_pct, |p| p.protection_pct);
        crate::order::protection::ProtectionSettings {
            enabled: self.protection,
            sl_pct: self.sl_percentage.unwrap_or(preset_pct),
            tp_pct: self.tp_percentage.unwrap_or(preset_pct),
            on_failure: self
                .on_protection_failure
                .as_ref()
                .and_then(Setting::valid)
                .unwrap_or(crate::order::protection::OnFailure::Flatten),
        }
    }
}

impl Named for crate::order::protection::OnFailure {
    fn from_name(raw: &str) -> Option<Self> {
        Self::parse(raw)
    }
    fn name(&self) -> &str {
        self.as_str()
    }
}

/// The last sent signal of a symbol and side: `last_{side}_ms` (market time of its candle), `last_{side}_price`,
/// `last_{side}_signal_id` and `last_{side}_claimed_ms` (wall-clock time of the claim). The claim is a lease: a run
/// that finds a claim of the very signal it is about to send leaves it alone while the claim is younger than the
/// evaluator's timeout (the claiming run is still in flight and will finish it), and finishes it once it is older
/// (the claiming run died between the claim and the signal row).
#[derive(Debug, Clone, PartialEq)]
pub struct Emission {
    pub candle_open_ms: i64,
    pub price: Decimal,
    pub signal_id: Option<String>,
    /// None for claims written before the lease existed: treated as expired.
    pub claimed_at_ms: Option<i64>,
    /// Unique per claim write: the same write retried by the SDK after its answer was lost finds its own token and
    /// succeeds, where another run's claim (same signal, same millisecond even) does not.
    pub claim_token: Option<String>,
}

impl Emission {
    /// True when this is a claim of `signal_id` whose lease has not run out at `now_ms`.
    pub fn is_live_claim_of(&self, signal_id: &str, now_ms: i64, lease_ms: i64) -> bool {
        self.signal_id.as_deref() == Some(signal_id)
            && self
                .claimed_at_ms
                .is_some_and(|at| now_ms.saturating_sub(at) < lease_ms)
    }
}

/// A switch written as a boolean or as `"on"` / `"off"`.
fn on_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Switch {
        Bool(bool),
        Word(String),
    }
    match Switch::deserialize(d)? {
        Switch::Bool(b) => Ok(b),
        Switch::Word(w) if w.eq_ignore_ascii_case("on") => Ok(true),
        Switch::Word(w) if w.eq_ignore_ascii_case("off") => Ok(false),
        Switch::Word(w) => Err(serde::de::Error::custom(format!("{w:?} is neither on nor off"))),
    }
}

fn yes() -> bool {
    true
}
fn default_trade_amount() -> Decimal {
    Decimal::from(100)
}
fn default_preset() -> Setting<&'static Preset> {
    Setting::Valid(crate::strategy::DEFAULT_PRESET)
}

/// A watchlist setting stored as text: the value it names, read once when the row is read, or the text when it names
/// none — kept, so that the row still lists, the evaluator skips that one symbol with the reason, and
/// `WatchlistEntry::problems` tells the operator what to fix.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting<T> {
    Valid(T),
    Invalid(String),
}

/// A value the watchlist stores by name.
pub trait Named: Sized {
    fn from_name(raw: &str) -> Option<Self>;
    fn name(&self) -> &str;
}

impl<T: Named> Setting<T> {
    pub fn read(raw: &str) -> Self {
        T::from_name(raw).map_or_else(|| Self::Invalid(raw.to_string()), Self::Valid)
    }

    /// The value, or None when the stored text names none.
    pub fn valid(&self) -> Option<T>
    where
        T: Copy,
    {
        match self {
            Self::Valid(v) => Some(*v),
            Self::Invalid(_) => None,
        }
    }

    /// The name as stored: the value's, or the text that named none.
    pub fn name(&self) -> &str {
        match self {
            Self::Valid(v) => v.name(),
            Self::Invalid(raw) => raw,
        }
    }
}

impl<T: Named> Serialize for Setting<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de, T: Named> Deserialize<'de> for Setting<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::read(&String::deserialize(deserializer)?))
    }
}

impl Named for &'static Preset {
    fn from_name(raw: &str) -> Option<Self> {
        crate::strategy::preset(raw)
    }
    fn name(&self) -> &str {
        self.name
    }
}

impl Named for Timeframe {
    fn from_name(raw: &str) -> Option<Self> {
        Self::parse(raw)
    }
    fn name(&self) -> &str {
        self.as_str()
    }
}

impl Named for RsiMethod {
    fn from_name(raw: &str) -> Option<Self> {
        Self::parse(raw)
    }
    fn name(&self) -> &str {
        self.as_str()
    }
}

/// The body of a signals-queue message (docs/DESIGN.md §4).
///
/// Versioning rule: within a version, fields are only ever added, optional with a default, and readers ignore fields
/// they do not know — so during a staggered deploy an older orchestrator still reads a newer evaluator's messages. A
/// change an older reader must not ignore bumps `version`, which older readers refuse (→ DLQ, nothing written).
/// Unknown fields cannot smuggle anything in: what an order is made of is checked against the signal row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalMessage {
    pub version: u32,
    pub signal_id: SignalId,
    pub idempotency_key: IdempotencyKey,
    pub symbol: Symbol,
    pub side: Side,
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
    pub strategy: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub trade_amount_usd: Decimal,
    /// Added to version 1 (optional, default true): lets the orchestrator record TRADE_DISABLED without a read.
    #[serde(default = "yes")]
    pub trade_enabled: bool,
    /// Added to version 1 (optional, default true): send an ORDER PLACED confirmation for this signal's order.
    #[serde(default = "yes")]
    pub notify_order_placed: bool,
    pub emitted_at: DateTime<Utc>,
}

/// Why a queue message was refused.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("body is not a valid signal message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported message version {0} (this build reads version 1)")]
    Version(u32),
    #[error("fields disagree with signal_id {signal_id}: {what}")]
    Inconsistent { signal_id: String, what: &'static str },
}

impl SignalMessage {
    pub const VERSION: u32 = 1;

    /// Parses and cross-checks a body: the key, symbol and side must be the ones the signal id derives.
    pub fn parse(body: &str) -> Result<Self, MessageError> {
        let version = serde_json::from_str::<serde_json::Value>(body)?
            .get("version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if version != u64::from(Self::VERSION) {
            return Err(MessageError::Version(u32::try_from(version).unwrap_or(u32::MAX)));
        }
        let msg: SignalMessage = serde_json::from_str(body)?;
        let inconsistent = |what| MessageError::Inconsistent {
            signal_id: msg.signal_id.to_string(),
            what,
        };
        if msg.idempotency_key != IdempotencyKey::for_signal(&msg.signal_id) {
            return Err(inconsistent("idempotency_key"));
        }
        if &msg.symbol != msg.signal_id.symbol() {
            return Err(inconsistent("symbol"));
        }
        if msg.side != msg.signal_id.side() {
            return Err(inconsistent("side"));
        }
        Ok(msg)
    }

    /// The fields in which this message disagrees with the signal row it names; empty when it matches. Amounts
    /// and times compare as they are stored (decimal text, RFC 3339 with milliseconds), so the storage condition
    /// and this function agree; a held-back (blocked) signal never matches, it is never to be traded.
    pub fn disagreements(&self, row: &SignalRecord) -> Vec<&'static str> {
        let checks = [
            ("signal_id", row.signal_id == self.signal_id),
            ("symbol", row.symbol == self.symbol),
            ("side", row.side == self.side),
            ("price", row.price.to_string() == self.price.to_string()),
            (
                "trade_amount_usd",
                row.trade_amount_usd.to_string() == self.trade_amount_usd.to_string(),
            ),
            ("trade_enabled", row.trade_enabled == self.trade_enabled),
            (
                "notify_order_placed",
                row.notify_order_placed == self.notify_order_placed,
            ),
            ("emitted_at", rfc3339(row.created_at) == rfc3339(self.emitted_at)),
            ("blocked", !row.blocked),
        ];
        checks.iter().filter(|(_, ok)| !ok).map(|(name, _)| *name).collect()
    }

    /// Why a claim of this message was refused, from the row the signal check found (None: no row).
    pub fn mismatch_reason(&self, row: Option<&SignalRecord>) -> String {
        match row {
            None => format!("signal {} does not exist", self.signal_id),
            Some(row) => format!(
                "signal {} disagrees with the message in: {}",
                self.signal_id,
                self.disagreements(row).join(", ")
            ),
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and a timestamp always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../../events/signal-message.json");

    /// Every alert id renders to its stored form and parses back to itself; anything else is refused.
    #[test]
    fn alert_ids_round_trip_through_their_stored_form_and_nothing_else_parses() {
        let signal = SignalId::new(&Symbol::parse("ETH_BTC").unwrap(), Side::Sell, 1_516_579_200_000);
        let key = IdempotencyKey::for_signal(&signal);
        let all = [
            AlertId::Signal(signal.clone()),
            AlertId::Placed(key.clone()),
            AlertId::Skipped(key.clone()),
            AlertId::Failure(key.clone()),
            AlertId::Executed(key.clone(), 3),
            AlertId::Protection(key.clone(), ProtectionEvent::Closed),
        ];
        for id in all {
            assert_eq!(AlertId::parse(&id.to_string()), Some(id.clone()), "{id}");
        }
        assert_eq!(AlertRecord::executed_id(&key, 2), format!("executed:{key}:2"));
        assert_eq!(AlertRecord::signal_id(&signal), "signal:ETH_BTC:SELL:1516579200000");
        for bad in [
            "",
            "signal:",
            "placed:x",
            "executed:{key}",
            "halt:1",
            "Signal:ETH_BTC:SELL:1",
            "executed:k:-1",
        ] {
            assert_eq!(AlertId::parse(bad), None, "{bad}");
        }
        assert_eq!(
            AlertId::parse(&format!("executed:{key}")),
            None,
            "an increment is required"
        );
    }

    #[test]
    fn watchlist_settings_are_typed_when_read_and_a_bad_name_is_kept_for_the_operator() {
        let e: WatchlistEntry = serde_json::from_value(serde_json::json!({
            "symbol": "ETH_BTC", "preset": "Scalp-Aggressive", "timeframe": "4h", "rsi_method": "Wilder"
        }))
        .unwrap();
        assert!(matches!(e.preset, Setting::Valid(p) if p.name == "scalp-aggressive"));
        assert_eq!(e.timeframe, Some(Setting::Valid(Timeframe::H4)));
        assert_eq!(e.rsi_method, Some(Setting::Valid(RsiMethod::Wilder)));
        assert!(e.problems().is_empty());
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(
            (&back["preset"], &back["rsi_method"]),
            (&"scalp-aggressive".into(), &"wilder".into())
        );

        let bad: WatchlistEntry =
            serde_json::from_value(serde_json::json!({ "symbol": "ETH_BTC", "preset": "yolo", "timeframe": "7m" }))
                .unwrap();
        assert_eq!(bad.preset, Setting::Invalid("yolo".into()));
        assert_eq!(bad.timeframe, Some(Setting::Invalid("7m".into())));
        assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
        assert_eq!(
            serde_json::to_value(&bad).unwrap()["preset"],
            "yolo",
            "written back as it was"
        );

        let default: WatchlistEntry = serde_json::from_value(serde_json::json!({ "symbol": "ETH_BTC" })).unwrap();
        assert_eq!(default.preset.name(), "swing-aggressive");
        // Protection: on by default at the preset's distance; "off", percentages and the failure mode per row.
        let p = default.protection_settings();
        assert_eq!(
            (p.enabled, p.sl_pct, p.on_failure),
            (true, Decimal::from(2), crate::order::protection::OnFailure::Flatten)
        );
        let custom: WatchlistEntry = serde_json::from_value(serde_json::json!({
            "symbol": "ETH_BTC", "protection": "off", "sl_percentage": "1.5", "on_protection_failure": "alert"
        }))
        .unwrap();
        let p = custom.protection_settings();
        assert_eq!(
            (p.enabled, p.sl_pct, p.tp_pct),
            (false, Decimal::new(15, 1), Decimal::from(2))
        );
        assert_eq!(p.on_failure, crate::order::protection::OnFailure::Alert);
        let wrong: WatchlistEntry = serde_json::from_value(serde_json::json!({
            "symbol": "ETH_BTC", "tp_percentage": "60", "on_protection_failure": "panic"
        }))
        .unwrap();
        assert_eq!(wrong.problems().len(), 2, "{:?}", wrong.problems());
        assert!(serde_json::from_value::<WatchlistEntry>(
            serde_json::json!({ "symbol": "ETH_BTC", "protection": "maybe" })
        )
        .is_err());
        assert_eq!(
            default,
            WatchlistEntry::new(default.symbol.clone()),
            "one set of defaults"
        );
    }

    #[test]
    fn sample_message_parses_and_round_trips() {
        let msg = SignalMessage::parse(SAMPLE).unwrap();
        assert_eq!(msg.signal_id.as_str(), "ETH_BTC:BUY:1516579200000");
        assert_eq!(SignalMessage::parse(&msg.to_json()).unwrap(), msg);
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let v2 = SAMPLE.replace("\"version\": 1", "\"version\": 2");
        assert!(matches!(SignalMessage::parse(&v2), Err(MessageError::Version(2))));
        let wrong_key = SAMPLE.replace(":side:BUY", ":side:SELL");
        assert!(SignalMessage::parse(&wrong_key).is_err());
        let wrong_symbol = SAMPLE.replace("\"symbol\": \"ETH_BTC\"", "\"symbol\": \"XRP_USDT\"");
        assert!(matches!(
            SignalMessage::parse(&wrong_symbol),
            Err(MessageError::Inconsistent { .. })
        ));
        assert!(SignalMessage::parse("not json").is_err());
    }

    #[test]
    fn a_newer_writer_within_version_1_is_read_by_an_older_reader() {
        // A field a later build adds within version 1 is ignored, not refused: no DLQ during a staggered deploy.
        let newer = SAMPLE.replacen('{', "{\"added_later\": {\"any\": [1, 2]},", 1);
        assert_eq!(
            SignalMessage::parse(&newer).unwrap(),
            SignalMessage::parse(SAMPLE).unwrap()
        );
        // Fields added within version 1 are optional: a message from before them still reads, with their defaults.
        let older = SAMPLE.replace("\"trade_enabled\": true,", "");
        assert_ne!(older, SAMPLE);
        let msg = SignalMessage::parse(&older).unwrap();
        assert!(msg.trade_enabled && msg.notify_order_placed);
    }

    #[test]
    fn reason_codes_group_into_decision_types() {
        assert_eq!(ReasonCode::ExecOrderPlaced.decision_type(), DecisionType::Executed);
        assert_eq!(ReasonCode::Timeout.decision_type(), DecisionType::Failed);
        assert_eq!(ReasonCode::IdempotencyBlocked.decision_type(), DecisionType::Skipped);
        for code in ReasonCode::ALL {
            assert_eq!(ReasonCode::parse(code.as_str()), Some(*code));
        }
    }
}
