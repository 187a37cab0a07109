//! The invariants report (docs/DESIGN.md §8): for every sent signal in a window — it has an order intent, it has a
//! decision, a failed order has its Telegram message, and no intent is stuck past its lease. Pure: it takes the rows
//! and the time, and computes every number from them. [`collect`] gathers the rows through the ports.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::decision::{DecisionType, ReasonCode};
use crate::ids::{ClientOid, IdempotencyKey, Side, SignalId};
use crate::money::Sizing;
use crate::order::{IntentStatus, OrderIntent};
use crate::outbox::{AlertRecord, AlertStatus};
use crate::ports::{IntentStore, SignalStore, StoreError, Stores};
use crate::signal::SignalRecord;
use crate::time::rfc3339;

/// A validated diagnostics query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportQuery {
    pub hours: u32,
    /// At most this many signals, newest first; None = every signal of the window (the sweeper's).
    pub limit: Option<usize>,
    pub side: Option<Side>,
}

impl Default for ReportQuery {
    fn default() -> Self {
        Self {
            hours: 168,
            limit: Some(500),
            side: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViolationType {
    MissingIntent,
    NullDecision,
    FailedWithoutTelegram,
    NonTerminalIntent,
    /// An order intent whose signal row is missing or was never sent (held back): an order (or an attempt) no
    /// signal accounts for. The claim refuses such messages, so this only appears if a signal row was removed or
    /// written around the claim; it is never repaired automatically.
    OrphanIntent,
    /// An order placed more than [`Patience::unconfirmed_after`] ago whose fill the exchange has not reported final
    /// (docs/DESIGN.md §13): the system does not know what it holds.
    UnconfirmedOrder,
    /// An order the exchange holds open with this system's client_oid form and no intent (docs/DESIGN.md §13): seen
    /// by the sweeper's last reconciliation, live mode.
    GhostOrder,
    /// A Telegram message of the signal still undelivered [`Patience::undelivered_after`] after it was written: an
    /// ORDER PLACED, ORDER SKIPPED or ORDER EXECUTED outbox row still PENDING, or a BUY/SELL SIGNAL alert that
    /// failed (ORDER FAILED has its own, FAILED_WITHOUT_TELEGRAM). The sweeper resends them; this says it has not
    /// managed to.
    UndeliveredMessage,
    /// A filled BUY whose position the exchange does not protect [`Patience::unprotected_after`] after its fill
    /// (docs/DESIGN.md §14): its protection never started, is still being placed, failed with `alert`, or is
    /// flattening. The sweeper places a missing protection once; this says it has not managed to.
    UnprotectedPosition,
}

/// How long a filled BUY may go without its protection on the exchange before the report flags it
/// (UNPROTECTED_POSITION), unless `UNPROTECTED_AFTER_MINUTES` says otherwise.
pub const UNPROTECTED_AFTER_MINUTES: i64 = 5;

/// How long a placed order may go without a final fill before the report flags it (UNCONFIRMED_ORDER), unless
/// `UNCONFIRMED_AFTER_MINUTES` says otherwise.
pub const UNCONFIRMED_AFTER_MINUTES: i64 = 10;

/// How long a Telegram message may stay undelivered before the report flags it (UNDELIVERED_MESSAGE), unless
/// `UNDELIVERED_AFTER_MINUTES` says otherwise: two sweeper runs at least.
pub const UNDELIVERED_AFTER_MINUTES: i64 = 15;

/// How long the report waits before it calls something a violation: `grace` for a signal in flight (its intent,
/// decision and failure message), `unconfirmed_after` for a placed order without a final fill, `undelivered_after`
/// for any other Telegram message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    pub grace: Duration,
    pub unconfirmed_after: Duration,
    pub undelivered_after: Duration,
    pub unprotected_after: Duration,
}

impl From<Duration> for Patience {
    /// `grace`, and the defaults [`UNCONFIRMED_AFTER_MINUTES`] and [`UNDELIVERED_AFTER_MINUTES`].
    fn from(grace: Duration) -> Self {
        Self {
            grace,
            unconfirmed_after: Duration::minutes(UNCONFIRMED_AFTER_MINUTES),
            undelivered_after: Duration::minutes(UNDELIVERED_AFTER_MINUTES),
            unprotected_after: Duration::minutes(UNPROTECTED_AFTER_MINUTES),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntentView {
    pub idempotency_key: IdempotencyKey,
    pub status: IntentStatus,
    pub order_id: Option<String>,
    pub client_oid: ClientOid,
    pub error_message: Option<String>,
    pub created_at: String,
    /// How the order was sized (None until it was): what was, or would be, on the exchange.
    pub sizing: Option<SizingView>,
    /// What the exchange last reported about the placed order (None until first read).
    pub fill: Option<FillView>,
}

/// A placed order's fill as the report shows it: the exchange's `status`, `cumulative_quantity`, `avg_price`,
/// `cumulative_fee` and `fee_instrument_name`, decimals as text.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FillView {
    pub status: crate::order::OrderStatus,
    pub filled_quantity: String,
    pub average_price: String,
    pub fee: String,
    pub fee_currency: String,
    pub updated_at: String,
}

impl From<&crate::order::Fill> for FillView {
    fn from(f: &crate::order::Fill) -> Self {
        Self {
            status: f.status,
            filled_quantity: f.filled_quantity.normalize().to_string(),
            average_price: f.average_price.normalize().to_string(),
            fee: f.fee.normalize().to_string(),
            fee_currency: f.fee_currency.clone(),
            updated_at: rfc3339(f.updated_at),
        }
    }
}

/// An intent's sizing as the report shows it: decimals as text, units named.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SizingView {
    pub amount_usd: String,
    pub quote_currency: String,
    pub quote_usd_price: String,
    pub quote_usd_price_source: String,
    pub notional: String,
    pub quantity: Option<String>,
    pub usd_value: String,
}

impl From<&Sizing> for SizingView {
    fn from(z: &Sizing) -> Self {
        Self {
            amount_usd: z.amount.0.normalize().to_string(),
            quote_currency: z.quote_price.currency.clone(),
            quote_usd_price: z.quote_price.usd_per_unit.normalize().to_string(),
            quote_usd_price_source: z.quote_price.source.clone(),
            notional: z.notional.amount.normalize().to_string(),
            quantity: z.quantity.map(|q| q.0.normalize().to_string()),
            usd_value: z.usd_value.0.normalize().to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SignalView {
    pub signal_id: String,
    pub timestamp: String,
    pub symbol: String,
    pub side: Side,
    pub price: String,
    pub message: String,
    pub blocked: bool,
    pub decision_type: Option<DecisionType>,
    pub reason_code: Option<ReasonCode>,
    pub reason_message: Option<String>,
    pub exchange_error_snippet: Option<String>,
    pub correlation_id: Option<String>,
    pub order_attempted: bool,
    pub order_id: Option<String>,
    pub order_intent: Option<IntentView>,
    pub violations: Vec<ViolationType>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Violation {
    /// The signal it is found on; None for what no signal accounts for (a ghost order). Served as the id, or "".
    #[serde(serialize_with = "id_or_empty")]
    pub signal_id: Option<SignalId>,
    pub timestamp: String,
    pub symbol: String,
    pub side: Side,
    pub violation: ViolationType,
    pub message: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts {
    pub total_signals: usize,
    pub sent_signals: usize,
    pub placed: usize,
    pub failed: usize,
    pub dedup: usize,
    pub missing_intent: usize,
    pub null_decisions: usize,
    pub failed_without_telegram: usize,
    pub duplicate_intent: usize,
    pub non_terminal_intent: usize,
    pub in_flight: usize,
    pub orphan_intent: usize,
    /// Signals the risk guard held back (RISK_LIMIT_EXCEEDED, TRADING_HALTED): decided, not violations.
    pub risk_skipped: usize,
    pub unconfirmed_orders: usize,
    pub ghost_orders: usize,
    pub undelivered_messages: usize,
    pub unprotected_positions: usize,
}

/// Every kind of violation in one table: its count in the report and the metric (and alarm) that publishes it. A
/// test checks that template.yaml has an alarm and a dashboard widget on each metric, and that the OpenAPI document
/// and the runbook name each kind (tests/src/template.rs).
impl ViolationType {
    pub const ALL: [ViolationType; 9] = [
        ViolationType::MissingIntent,
        ViolationType::NullDecision,
        ViolationType::FailedWithoutTelegram,
        ViolationType::NonTerminalIntent,
        ViolationType::OrphanIntent,
        ViolationType::UnconfirmedOrder,
        ViolationType::GhostOrder,
        ViolationType::UndeliveredMessage,
        ViolationType::UnprotectedPosition,
    ];

    /// The EMF metric the sweeper publishes this kind's count as.
    pub const fn metric(self) -> &'static str {
        match self {
            ViolationType::MissingIntent => "MissingIntent",
            ViolationType::NullDecision => "NullDecisions",
            ViolationType::FailedWithoutTelegram => "FailedWithoutTelegram",
            ViolationType::NonTerminalIntent => "NonTerminalIntent",
            ViolationType::OrphanIntent => "OrphanIntent",
            ViolationType::UnconfirmedOrder => "UnconfirmedOrders",
            ViolationType::GhostOrder => "GhostOrders",
            ViolationType::UndeliveredMessage => "UndeliveredMessages",
            ViolationType::UnprotectedPosition => "UnprotectedPositions",
        }
    }

    /// Whether the kind is found on a sent signal (listed in its `violations`); an orphan intent and a ghost order
    /// have no signal.
    pub const fn per_signal(self) -> bool {
        !matches!(self, ViolationType::OrphanIntent | ViolationType::GhostOrder)
    }

    /// The stored and served form (`MISSING_INTENT`).
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl Counts {
    fn count_mut(&mut self, v: ViolationType) -> &mut usize {
        match v {
            ViolationType::MissingIntent => &mut self.missing_intent,
            ViolationType::NullDecision => &mut self.null_decisions,
            ViolationType::FailedWithoutTelegram => &mut self.failed_without_telegram,
            ViolationType::NonTerminalIntent => &mut self.non_terminal_intent,
            ViolationType::OrphanIntent => &mut self.orphan_intent,
            ViolationType::UnconfirmedOrder => &mut self.unconfirmed_orders,
            ViolationType::GhostOrder => &mut self.ghost_orders,
            ViolationType::UndeliveredMessage => &mut self.undelivered_messages,
            ViolationType::UnprotectedPosition => &mut self.unprotected_positions,
        }
    }

    fn add_violation(&mut self, v: ViolationType) {
        *self.count_mut(v) += 1;
    }

    /// The count of one kind of violation.
    pub fn of(&self, v: ViolationType) -> usize {
        *self.clone().count_mut(v)
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    pub buy_signals: usize,
    pub sell_signals: usize,
    pub executed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub null_decisions: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub signals: Vec<SignalView>,
    pub total: usize,
    pub hours: u32,
    pub counts: Counts,
    pub violations: Vec<Violation>,
    pub pass: bool,
    pub summary: Summary,
    /// The kill switch and the global limits as the control row has them now (docs/DESIGN.md §11); None when the
    /// control row could not be read (the rest of the report stands).
    pub trading: Option<TradingView>,
    /// Per symbol, from the recorded fills of the window's orders (docs/DESIGN.md §13): a position closed within
    /// the window stays listed with quantity 0 and its realized P&L.
    pub positions: Vec<crate::order::Position>,
    /// Every close of the window's positions in time order, with the running sum (the operator page's chart).
    pub realized_pnl: Vec<crate::order::RealizedPoint>,
}

/// The control row, for the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TradingView {
    pub halted: bool,
    pub halt_reason: Option<String>,
    pub halted_by: Option<String>,
    pub halted_at: Option<String>,
    pub control_version: u64,
    pub limits: crate::risk::RiskLimits,
    pub breaker_failures: Option<u32>,
}

impl From<&crate::risk::Control> for TradingView {
    fn from(c: &crate::risk::Control) -> Self {
        Self {
            halted: c.halt.is_some(),
            halt_reason: c.halt.as_ref().map(|h| h.reason.clone()),
            halted_by: c.halt.as_ref().map(|h| h.by.clone()),
            halted_at: c.halt.as_ref().map(|h| rfc3339(h.at)),
            control_version: c.version,
            limits: c.limits.clone(),
            breaker_failures: c.breaker_failures,
        }
    }
}

impl Report {
    /// Adds the ghost orders the sweeper's last reconciliation recorded (they are not in the tables the report is
    /// computed from): one GHOST_ORDER violation each.
    pub fn add_ghosts(&mut self, ghosts: &[crate::order::OpenOrder], checked_at: Option<DateTime<Utc>>) {
        for g in ghosts {
            self.counts.add_violation(ViolationType::GhostOrder);
            self.violations.push(Violation {
                signal_id: None,
                timestamp: checked_at.map(rfc3339).unwrap_or_default(),
                symbol: g.symbol.clone(),
                side: if g.side.eq_ignore_ascii_case("SELL") {
                    Side::Sell
                } else {
                    Side::Buy
                },
                violation: ViolationType::GhostOrder,
                message: "Open order on the exchange with this system's client_oid and no intent".into(),
                details: serde_json::json!({ "client_oid": g.client_oid, "order_id": g.order_id }),
            });
        }
        self.pass = self.violations.is_empty();
    }
}

fn id_or_empty<S: serde::Serializer>(id: &Option<SignalId>, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(id.as_ref().map_or("", SignalId::as_str))
}

/// One violation found on a signal: its type, message and details.
type Finding = (ViolationType, String, serde_json::Value);

/// Builds the report over the rows of a window (see [`Rows`]).
pub fn evaluate(query: &ReportQuery, rows: &Rows, now: DateTime<Utc>, patience: impl Into<Patience>) -> Report {
    let patience = patience.into();
    let grace = patience.grace;
    let signals = &rows.signals;
    let mut counts = Counts {
        total_signals: signals.len(),
        sent_signals: signals.len(),
        ..Counts::default()
    };
    let mut summary = Summary::default();
    let mut violations = Vec::new();
    let mut views = Vec::with_capacity(signals.len());

    for s in signals {
        let past_grace = now - s.created_at > grace;
        let intent = rows.intents.get(&s.idempotency_key());
        let mut found = intent_findings(s, intent, rows, now, patience, &mut counts);
        found.extend(decision_finding(s, intent, past_grace, &mut counts, &mut summary));
        match s.side {
            Side::Buy => summary.buy_signals += 1,
            Side::Sell => summary.sell_signals += 1,
        }
        let timestamp = rfc3339(s.created_at);
        for (v, message, details) in &found {
            counts.add_violation(*v);
            violations.push(Violation {
                signal_id: Some(s.signal_id.clone()),
                timestamp: timestamp.clone(),
                symbol: s.symbol.to_string(),
                side: s.side,
                violation: *v,
                message: message.clone(),
                details: details.clone(),
            });
        }
        views.push(view(s, intent, found.iter().map(|(v, _, _)| *v).collect(), timestamp));
    }
    for i in &rows.orphans {
        counts.add_violation(ViolationType::OrphanIntent);
        violations.push(orphan_violation(i));
    }
    summary.null_decisions = counts.null_decisions;
    let ledger = crate::order::Ledger::from_intents(rows.intents.values(), crate::flow::follow::dust(8));
    let mut protections = crate::order::intent::latest_by_symbol(rows.intents.values());
    let mut positions = ledger.positions();
    for p in &mut positions {
        p.protection = protections.remove(&p.symbol);
    }
    Report {
        positions,
        realized_pnl: ledger.realized_series(),
        total: views.len(),
        signals: views,
        hours: query.hours,
        counts,
        pass: violations.is_empty(),
        violations,
        summary,
        trading: None,
    }
}

/// What the signal's intent says: no intent past the grace (MISSING_INTENT), a lapsed lease on a non-terminal
/// intent, a failure whose ORDER FAILED message did not go out; counts placed, failed and in-flight signals.
fn intent_findings(
    s: &SignalRecord,
    intent: Option<&OrderIntent>,
    rows: &Rows,
    now: DateTime<Utc>,
    patience: Patience,
    counts: &mut Counts,
) -> Vec<Finding> {
    let grace = patience.grace;
    let mut found = Vec::new();
    let Some(i) = intent else {
        if now - s.created_at > grace {
            found.push((
                ViolationType::MissingIntent,
                "Signal was sent but no order_intent exists".into(),
                serde_json::json!({ "idempotency_key": s.idempotency_key().as_str() }),
            ));
        } else {
            counts.in_flight += 1;
        }
        return found;
    };
    match i.status {
        IntentStatus::OrderPlaced => counts.placed += 1,
        IntentStatus::OrderFailed => counts.failed += 1,
        _ => {}
    }
    if !i.status.is_terminal() && i.lease_until_ms + grace.num_milliseconds() < now.timestamp_millis() {
        found.push((
            ViolationType::NonTerminalIntent,
            "Order intent status is not terminal".into(),
            serde_json::json!({ "idempotency_key": i.idempotency_key.as_str(), "status": i.status, "lease_until_ms": i.lease_until_ms }),
        ));
    }
    if crate::flow::follow::is_open(i) && now - i.updated_at > patience.unconfirmed_after {
        found.push((
            ViolationType::UnconfirmedOrder,
            format!(
                "Order placed more than {} minutes ago has no final fill from the exchange",
                patience.unconfirmed_after.num_minutes()
            ),
            serde_json::json!({
                "idempotency_key": i.idempotency_key.as_str(),
                "client_oid": i.client_oid.as_str(),
                "fill_status": i.fill.as_ref().map(|f| f.status),
            }),
        ));
    }
    if let Some(f) = unprotected(i, now, patience.unprotected_after) {
        found.push(f);
    }
    if i.status == IntentStatus::OrderFailed && now - i.updated_at > grace {
        let alert_id = AlertRecord::failure_id(&i.idempotency_key);
        let alert = rows.outbox.get(&alert_id);
        if alert.is_none_or(|a| a.status != AlertStatus::Sent) {
            found.push((
                ViolationType::FailedWithoutTelegram,
                "ORDER_FAILED but no Telegram failure message was sent".into(),
                serde_json::json!({ "alert_id": alert_id, "alert_status": alert.map(|a| a.status) }),
            ));
        }
    }
    found.extend(undelivered(s, i, rows, now, patience));
    found
}

/// The signal's Telegram messages still undelivered past `undelivered_after`: its BUY/SELL SIGNAL alert, and its
/// order's outbox rows but ORDER FAILED (FAILED_WITHOUT_TELEGRAM's), one finding each.
fn undelivered(s: &SignalRecord, i: &OrderIntent, rows: &Rows, now: DateTime<Utc>, patience: Patience) -> Vec<Finding> {
    let late = |at: DateTime<Utc>| now - at > patience.undelivered_after;
    let minutes = patience.undelivered_after.num_minutes();
    let mut found = Vec::new();
    if s.alert_status == Some(crate::signal::SignalAlertStatus::Failed) && late(s.created_at) {
        found.push((
            ViolationType::UndeliveredMessage,
            format!(
                "The {} SIGNAL alert is still undelivered after {minutes} minutes",
                s.side
            ),
            serde_json::json!({ "message": "signal", "signal_id": s.signal_id.as_str() }),
        ));
    }
    let failure = AlertRecord::failure_id(&i.idempotency_key);
    for a in outbox_ids(i)
        .iter()
        .filter(|id| **id != failure)
        .filter_map(|id| rows.outbox.get(id))
        .filter(|a| a.status == AlertStatus::Pending && late(a.created_at))
    {
        found.push((
            ViolationType::UndeliveredMessage,
            format!("The {} message is still undelivered after {minutes} minutes", a.kind),
            serde_json::json!({ "alert_id": a.alert_id, "attempts": a.attempts, "last_error": a.last_error }),
        ));
    }
    found
}

/// What the signal's decision says: none past the grace (NULL_DECISION); counts the decision types, dedups and
/// risk skips.
fn decision_finding(
    s: &SignalRecord,
    intent: Option<&OrderIntent>,
    past_grace: bool,
    counts: &mut Counts,
    summary: &mut Summary,
) -> Option<Finding> {
    let Some(d) = &s.decision else {
        if past_grace {
            return Some((
                ViolationType::NullDecision,
                "Signal has null decision fields".into(),
                serde_json::json!({ "decision_type": null, "reason_code": null, "reason_message": null }),
            ));
        }
        if intent.is_some() {
            counts.in_flight += 1;
        }
        return None;
    };
    match d.decision_type {
        DecisionType::Executed => summary.executed += 1,
        DecisionType::Failed => summary.failed += 1,
        DecisionType::Skipped => summary.skipped += 1,
    }
    if d.reason_code == ReasonCode::IdempotencyBlocked {
        counts.dedup += 1;
    }
    if matches!(d.reason_code, ReasonCode::RiskLimitExceeded | ReasonCode::TradingHalted) {
        counts.risk_skipped += 1;
    }
    None
}

fn orphan_violation(i: &OrderIntent) -> Violation {
    Violation {
        signal_id: Some(i.signal_id.clone()),
        timestamp: rfc3339(i.created_at),
        symbol: i.symbol.to_string(),
        side: i.side,
        violation: ViolationType::OrphanIntent,
        message: "Order intent exists but its signal does not, or was never sent".into(),
        details: serde_json::json!({
            "idempotency_key": i.idempotency_key.as_str(),
            "status": i.status,
            "order_id": i.order_id,
            "client_oid": i.client_oid.as_str(),
        }),
    }
}

fn view(
    s: &SignalRecord,
    intent: Option<&OrderIntent>,
    violations: Vec<ViolationType>,
    timestamp: String,
) -> SignalView {
    let d = s.decision.as_ref();
    SignalView {
        signal_id: s.signal_id.to_string(),
        timestamp,
        symbol: s.symbol.to_string(),
        side: s.side,
        price: s.price.normalize().to_string(),
        message: s.message.chars().take(200).collect(),
        blocked: s.blocked,
        decision_type: d.map(|d| d.decision_type),
        reason_code: d.map(|d| d.reason_code),
        reason_message: d.map(|d| d.reason_message.clone()),
        exchange_error_snippet: d.and_then(|d| d.exchange_error_snippet.clone()),
        correlation_id: d.map(|d| d.correlation_id.clone()),
        order_attempted: d.is_some_and(|d| d.decision_type != DecisionType::Skipped),
        order_id: d.and_then(|d| d.order_id.clone()),
        order_intent: intent.map(|i| IntentView {
            idempotency_key: i.idempotency_key.clone(),
            status: i.status,
            order_id: i.order_id.clone(),
            client_oid: i.client_oid.clone(),
            error_message: i.error_message.clone(),
            created_at: rfc3339(i.created_at),
            sizing: i.sizing.as_ref().map(SizingView::from),
            fill: i.fill.as_ref().map(FillView::from),
        }),
        violations,
    }
}

/// The rows a report is computed from: the window's sent signals (newest first, at most `limit`), their intents,
/// the failure alerts of their failed intents, and the intents of the same stretch of time that no sent signal
/// accounts for.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub signals: Vec<SignalRecord>,
    pub intents: HashMap<IdempotencyKey, OrderIntent>,
    pub outbox: HashMap<String, AlertRecord>,
    pub orphans: Vec<OrderIntent>,
}

/// The outbox rows an intent implies: ORDER FAILED for a failed order; ORDER PLACED (when asked for) and one ORDER
/// EXECUTED per recorded fill increment for a placed one; ORDER SKIPPED for a skip that has a message.
pub fn outbox_ids(i: &OrderIntent) -> Vec<String> {
    let key = &i.idempotency_key;
    match (i.status, i.error_code) {
        (IntentStatus::OrderFailed, _) => vec![AlertRecord::failure_id(key)],
        (IntentStatus::OrderPlaced, _) => std::iter::once(AlertRecord::placed_id(key))
            .chain(crate::flow::follow::executed_ids(i))
            .chain(crate::order::intent::message_ids(i))
            .collect(),
        (IntentStatus::Skipped, Some(code)) if code.has_skipped_message() => vec![AlertRecord::skipped_id(key)],
        _ => Vec::new(),
    }
}

/// A filled BUY whose protection is not on the exchange `after` its fill was recorded, or a SELL signal that took
/// entries off their stops and failed `after` ago: what they hold has no stop (UNPROTECTED_POSITION).
fn unprotected(i: &OrderIntent, now: DateTime<Utc>, after: Duration) -> Option<Finding> {
    use crate::order::intent::is_entry;
    if i.side == Side::Sell {
        return failed_release(i, now, after);
    }
    let fill = i.fill.as_ref().filter(|_| is_entry(i))?;
    let status = i.protection.as_ref().map(|p| p.status);
    if status.is_some_and(|s| s.is_protected()) || now - fill.updated_at <= after {
        return None;
    }
    Some((
        ViolationType::UnprotectedPosition,
        format!(
            "Filled BUY has no stop-loss/take-profit on the exchange {} minutes after its fill",
            after.num_minutes()
        ),
        serde_json::json!({
            "idempotency_key": i.idempotency_key.as_str(),
            "protection_status": status,
            "last_error": i.protection.as_ref().and_then(|p| p.last_error.clone()),
        }),
    ))
}

/// A SELL that released protections (docs/DESIGN.md §14) and then failed: the released entries' coins are held
/// without a stop until a SELL sells them.
fn failed_release(i: &OrderIntent, now: DateTime<Utc>, after: Duration) -> Option<Finding> {
    if i.releases.is_empty() || i.status != IntentStatus::OrderFailed || now - i.updated_at <= after {
        return None;
    }
    let released: Vec<&str> = i.releases.iter().map(IdempotencyKey::as_str).collect();
    Some((
        ViolationType::UnprotectedPosition,
        format!(
            "SELL took {} entries off their stop-loss/take-profit and failed: what they hold has no stop",
            released.len()
        ),
        serde_json::json!({
            "idempotency_key": i.idempotency_key.as_str(),
            "released": released,
            "error_code": i.error_code,
        }),
    ))
}

/// Reads the rows of a window through the ports: the `by_day` index for signals, batch gets for the rest.
pub async fn gather(stores: Stores<'_>, query: &ReportQuery, now: DateTime<Utc>) -> Result<Rows, StoreError> {
    let Stores {
        signals,
        intents,
        alerts,
        ..
    } = stores;
    let since = now - Duration::hours(i64::from(query.hours));
    let sent = signals.recent_sent(since, now, query.side, query.limit).await?;
    let keys: Vec<IdempotencyKey> = sent.iter().map(SignalRecord::idempotency_key).collect();
    let intent_map: HashMap<IdempotencyKey, OrderIntent> = intents
        .get_many(&keys)
        .await?
        .into_iter()
        .map(|i| (i.idempotency_key.clone(), i))
        .collect();
    let alert_ids: Vec<String> = intent_map.values().flat_map(outbox_ids).collect();
    let alert_map: HashMap<String, AlertRecord> = alerts
        .get_many(&alert_ids)
        .await?
        .into_iter()
        .map(|a| (a.alert_id.clone(), a))
        .collect();
    let orphans = orphan_intents(signals, intents, query, &sent, since, now).await?;
    Ok(Rows {
        signals: sent,
        intents: intent_map,
        outbox: alert_map,
        orphans,
    })
}

/// Intents created in the stretch of time the report covers whose signal row is missing or not a sent signal.
/// The covered stretch is the window, or — when the limit cut the signals short — from the oldest signal read, so
/// that only intents near that edge (and real orphans) need their signal looked up.
async fn orphan_intents(
    signals: &dyn SignalStore,
    intents: &dyn IntentStore,
    query: &ReportQuery,
    sent: &[SignalRecord],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<OrderIntent>, StoreError> {
    let covered_from = match sent.last() {
        Some(oldest) if query.limit.is_some_and(|limit| sent.len() >= limit) => oldest.created_at,
        _ => since,
    };
    let known: HashSet<&SignalId> = sent.iter().map(|s| &s.signal_id).collect();
    let candidates: Vec<OrderIntent> = intents
        .intents_created_between(covered_from, now)
        .await?
        .into_iter()
        .filter(|i| !known.contains(&i.signal_id) && query.side.is_none_or(|side| i.side == side))
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<SignalId> = candidates.iter().map(|i| i.signal_id.clone()).collect();
    let found: HashMap<SignalId, bool> = signals
        .get_signals(&ids)
        .await?
        .into_iter()
        .map(|s| (s.signal_id, s.blocked))
        .collect();
    let mut orphans: Vec<OrderIntent> = candidates
        .into_iter()
        .filter(|i| found.get(&i.signal_id).is_none_or(|blocked| *blocked))
        .collect();
    orphans.sort_by_key(|i| std::cmp::Reverse(i.created_at));
    Ok(orphans)
}

/// Adds to `report` what its rows do not hold: the control row (`trading`: the halt and the limits) and the ghost
/// orders the last reconciliation found. Each is added when it can be read; the report stands without it, and the
/// log says why.
pub async fn add_control(report: &mut Report, control: &dyn crate::ports::ControlStore) {
    report.trading = match control.control().await {
        Ok(c) => Some((&c).into()),
        Err(e) => {
            tracing::error!(error = %e, "control row unreadable; the report says trading: null");
            None
        }
    };
    match control.ghost_orders().await {
        Ok((ghosts, at)) => report.add_ghosts(&ghosts, at),
        Err(e) => tracing::error!(error = %e, "ghost orders unreadable; not in this report"),
    }
}

/// Gathers the window's rows and evaluates them.
pub async fn collect(
    stores: Stores<'_>,
    query: &ReportQuery,
    now: DateTime<Utc>,
    patience: impl Into<Patience>,
) -> Result<Report, StoreError> {
    let rows = gather(stores, query, now).await?;
    Ok(evaluate(query, &rows, now, patience))
}

/// A query parameter the diagnostics API refuses (→ 400 naming the parameter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid query parameter {param}: {detail}")]
pub struct QueryError {
    pub param: String,
    pub detail: String,
}

impl ReportQuery {
    pub const HOURS: std::ops::RangeInclusive<u32> = 1..=720;
    pub const LIMIT: std::ops::RangeInclusive<usize> = 1..=1000;

    /// Parses `hours`, `limit` and `side`; any other name, a repeated name, a non-integer or out-of-range value is
    /// refused with the parameter's name.
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, QueryError> {
        let mut q = ReportQuery::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in params {
            let err = |detail: String| QueryError {
                param: name.to_string(),
                detail,
            };
            if seen.contains(&name) {
                return Err(err("given more than once".into()));
            }
            seen.push(name);
            match name {
                "hours" => {
                    q.hours = value
                        .parse()
                        .ok()
                        .filter(|h| Self::HOURS.contains(h))
                        .ok_or_else(|| err(format!("{value:?} is not an integer in 1..=720")))?
                }
                "limit" => {
                    q.limit = value
                        .parse()
                        .ok()
                        .filter(|l| Self::LIMIT.contains(l))
                        .map(Some)
                        .ok_or_else(|| err(format!("{value:?} is not an integer in 1..=1000")))?
                }
                "side" => q.side = Some(Side::parse(value).map_err(|_| err(format!("{value:?} is not BUY or SELL")))?),
                _ => return Err(err("unknown parameter (expected hours, limit, side)".into())),
            }
        }
        Ok(q)
    }
}

/// The report's counts as one CloudWatch Embedded Metric Format document (one log line), published every run.
pub fn emf_document(namespace: &str, report: &Report, timestamp_ms: i64) -> serde_json::Value {
    let c = &report.counts;
    let mut metrics: Vec<(&str, usize)> = vec![
        ("SentSignals", c.sent_signals),
        ("OrdersPlaced", c.placed),
        ("OrdersFailed", c.failed),
        ("InFlight", c.in_flight),
        ("RiskSkipped", c.risk_skipped),
    ];
    metrics.extend(ViolationType::ALL.iter().map(|v| (v.metric(), c.of(*v))));
    let mut doc = crate::report::metrics::emf(namespace, timestamp_ms, &metrics);
    // Only when the control row was read: a missing datapoint is not "not halted".
    if let Some(t) = &report.trading {
        crate::report::metrics::add_count(&mut doc, "TradingHalted", usize::from(t.halted));
    }
    doc["WindowHours"] = serde_json::json!(report.hours);
    doc["Pass"] = serde_json::json!(report.pass);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Symbol;
    use rust_decimal::Decimal;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn signal(ms: i64, age_s: i64, decided: Option<ReasonCode>) -> SignalRecord {
        let sym = Symbol::parse("ETH_BTC").unwrap();
        SignalRecord {
            decision: decided.map(|c| crate::fakes::decision(c, t0())),
            ..crate::fakes::sent_signal(
                &sym,
                Side::Buy,
                ms,
                Decimal::new(921, 4),
                t0() - Duration::seconds(age_s),
            )
        }
    }

    fn intent(s: &SignalRecord, status: IntentStatus, lease_until_ms: i64) -> OrderIntent {
        let mut i = crate::fakes::intent(s, status, s.created_at, s.created_at);
        i.lease_until_ms = lease_until_ms;
        i
    }

    #[allow(clippy::too_many_lines)] // one scenario, read top to bottom
    #[test]
    fn each_violation_and_the_grace() {
        let grace = Duration::seconds(120);
        let placed = signal(1, 600, Some(ReasonCode::ExecOrderPlaced));
        let missing = signal(2, 600, None);
        let young = signal(3, 10, None);
        let failed = signal(4, 600, Some(ReasonCode::InsufficientFunds));
        let stuck = signal(5, 600, None);
        let blocked_live = signal(6, 600, Some(ReasonCode::OrderBlockedLiveTrading));
        let signals = vec![
            placed.clone(),
            missing.clone(),
            young.clone(),
            failed.clone(),
            stuck.clone(),
            blocked_live.clone(),
        ];
        let mut intents = HashMap::new();
        for (s, st, lease) in [
            (&placed, IntentStatus::OrderPlaced, 0),
            (&failed, IntentStatus::OrderFailed, 0),
            (
                &stuck,
                IntentStatus::Pending,
                (t0() - Duration::seconds(500)).timestamp_millis(),
            ),
            (&blocked_live, IntentStatus::BlockedLiveTrading, 0),
        ] {
            intents.insert(s.idempotency_key(), intent(s, st, lease));
        }
        let mut rows = Rows {
            signals: signals.clone(),
            intents,
            ..Rows::default()
        };
        let r = evaluate(&ReportQuery::default(), &rows, t0(), grace);
        assert_eq!(r.counts.placed, 1);
        assert_eq!(r.counts.failed, 1);
        assert_eq!(r.counts.missing_intent, 1);
        assert_eq!(r.counts.null_decisions, 2, "missing and stuck");
        assert_eq!(r.counts.failed_without_telegram, 1);
        assert_eq!(r.counts.non_terminal_intent, 1);
        assert_eq!(r.counts.in_flight, 1);
        assert!(!r.pass);
        assert!(r.signals[5].violations.is_empty(), "BLOCKED_LIVE_TRADING is terminal");
        assert_eq!(r.violations.len(), 5);

        // The failure alert, once SENT, clears FAILED_WITHOUT_TELEGRAM.
        let alert_id = AlertRecord::failure_id(&failed.idempotency_key());
        let sent = AlertRecord {
            alert_id: alert_id.clone(),
            kind: crate::outbox::AlertKind::OrderFailed,
            symbol: failed.symbol.clone(),
            side: failed.side,
            text: String::new(),
            status: AlertStatus::Sent,
            telegram_message_id: Some(7),
            attempts: 1,
            last_error: None,
            created_at: t0(),
            sent_at: Some(t0()),
        };
        rows.outbox = HashMap::from([(alert_id, sent)]);
        rows.signals.truncate(4);
        let r = evaluate(&ReportQuery::default(), &rows, t0(), grace);
        assert_eq!(r.counts.failed_without_telegram, 0);
        assert!(r.violations.iter().all(|v| v.violation != ViolationType::OrphanIntent));

        // An intent no sent signal accounts for fails the report, whatever its status.
        rows.orphans = vec![intent(&signal(9, 30, None), IntentStatus::OrderPlaced, 0)];
        let r = evaluate(&ReportQuery::default(), &rows, t0(), grace);
        assert_eq!(r.counts.orphan_intent, 1);
        assert!(!r.pass);
        let v = r
            .violations
            .iter()
            .find(|v| v.violation == ViolationType::OrphanIntent)
            .unwrap();
        assert_eq!(v.details["status"], "ORDER_PLACED");
    }

    #[test]
    fn a_placed_order_without_a_final_fill_is_unconfirmed_after_its_setting() {
        let s = signal(1, 900, Some(ReasonCode::ExecOrderPlaced));
        let mut placed = crate::fakes::placed_intent(&s, t0() - Duration::minutes(11));
        let rows = |i: &OrderIntent| Rows {
            signals: vec![s.clone()],
            intents: HashMap::from([(i.idempotency_key.clone(), i.clone())]),
            ..Rows::default()
        };
        let r = evaluate(&ReportQuery::default(), &rows(&placed), t0(), Duration::seconds(120));
        assert_eq!(r.counts.unconfirmed_orders, 1);
        assert_eq!(r.signals[0].violations, [ViolationType::UnconfirmedOrder]);
        assert!(!r.pass);
        let patient = Patience {
            unconfirmed_after: Duration::minutes(15),
            ..Patience::from(Duration::seconds(120))
        };
        let r = evaluate(&ReportQuery::default(), &rows(&placed), t0(), patient);
        assert_eq!(
            r.counts.unconfirmed_orders, 0,
            "11 minutes is within a 15-minute setting"
        );
        placed.fill = Some(crate::order::Fill {
            status: crate::order::OrderStatus::Filled,
            filled_quantity: Decimal::from(2),
            average_price: Decimal::new(5, 2),
            fee: Decimal::new(1, 4),
            fee_currency: "BTC".into(),
            updated_at: t0(),
            version: 1,
            increments: 1,
        });
        let r = evaluate(&ReportQuery::default(), &rows(&placed), t0(), Duration::seconds(120));
        assert!(r.pass);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["signals"][0]["order_intent"]["fill"]["status"], "FILLED");
        assert_eq!(v["signals"][0]["order_intent"]["fill"]["filled_quantity"], "2");
        assert_eq!(v["positions"][0]["symbol"], "ETH_BTC");
        assert_eq!(v["positions"][0]["quantity"], "2");
        // 2 × 0.05 + the 0.0001 BTC fee, per unit.
        assert_eq!(v["positions"][0]["average_entry_price"], "0.05005");
    }

    /// The report over one signal and its intent, at t0.
    fn report_of(s: &SignalRecord, i: &OrderIntent) -> Report {
        let rows = Rows {
            signals: vec![s.clone()],
            intents: HashMap::from([(i.idempotency_key.clone(), i.clone())]),
            ..Rows::default()
        };
        evaluate(&ReportQuery::default(), &rows, t0(), Duration::seconds(120))
    }

    #[allow(clippy::too_many_lines)] // one scenario, read top to bottom
    #[test]
    fn a_filled_buy_without_its_protection_after_the_setting_is_unprotected() {
        let s = signal(1, 900, Some(ReasonCode::ExecOrderPlaced));
        let mut buy = crate::fakes::placed_intent(&s, t0() - Duration::minutes(20));
        buy.fill = Some(crate::order::Fill {
            status: crate::order::OrderStatus::Filled,
            filled_quantity: Decimal::from(2),
            average_price: Decimal::new(5, 2),
            fee: Decimal::ZERO,
            fee_currency: "BTC".into(),
            updated_at: t0() - Duration::minutes(6),
            version: 1,
            increments: 1,
        });
        let report = |i: &OrderIntent| report_of(&s, i);
        let r = report(&buy);
        assert_eq!(r.signals[0].violations, [ViolationType::UnprotectedPosition]);
        assert_eq!((r.counts.unprotected_positions, r.pass), (1, false));
        let protection = |status| crate::order::Protection {
            status,
            quantity: Decimal::from(2),
            stop_price: Decimal::new(49, 3),
            take_profit_price: Decimal::new(51, 3),
            list_id: None,
            attempts: 1,
            placed_at: None,
            lease_until_ms: 0,
            last_error: None,
            fills: Vec::new(),
            market_ms: 0,
            cancel_ms: None,
            version: 2,
            created_at: t0(),
            updated_at: t0(),
        };
        use crate::order::ProtectionStatus::*;
        for (status, flagged) in [
            (Active, false),
            (Off, false),
            (Placing, true),
            (Failed, true),
            (Flattening, true),
        ] {
            buy.protection = Some(protection(status));
            assert_eq!(
                report(&buy).counts.unprotected_positions,
                usize::from(flagged),
                "{status}"
            );
        }
        buy.protection = Some(protection(Active));
        let v = serde_json::to_value(report(&buy)).unwrap();
        // A SELL that released an entry's protection and then failed leaves it without a stop; one that released
        // none, or has not failed, says nothing.
        let s = SignalRecord {
            decision: Some(crate::fakes::decision(ReasonCode::ExchangeRejected, t0())),
            ..crate::fakes::sent_signal(
                &s.symbol,
                Side::Sell,
                2,
                Decimal::new(921, 4),
                t0() - Duration::minutes(16),
            )
        };
        let mut sell = crate::fakes::intent(&s, IntentStatus::OrderFailed, t0(), t0() - Duration::minutes(6));
        let sell_report = |i: &OrderIntent| report_of(&s, i).counts.unprotected_positions;
        assert_eq!(sell_report(&sell), 0, "released nothing");
        sell.releases = vec![buy.idempotency_key.clone()];
        assert_eq!(sell_report(&sell), 1, "released and failed");
        sell.status = IntentStatus::OrderPlaced;
        assert_eq!(sell_report(&sell), 0, "released and sold");
        assert_eq!(v["positions"][0]["protection"]["status"], "ACTIVE");
        assert_eq!(v["positions"][0]["protection"]["stop_price"], "0.049");
        assert_eq!(
            v["positions"][0]["protection"]["client_oids"].as_array().unwrap().len(),
            2
        );
    }

    #[test]
    fn report_json_has_the_contract_shape() {
        let rows = Rows {
            signals: vec![signal(1, 5, None)],
            ..Rows::default()
        };
        let r = evaluate(&ReportQuery::default(), &rows, t0(), Duration::seconds(120));
        let v = serde_json::to_value(&r).unwrap();
        for k in ["signals", "total", "hours", "counts", "violations", "pass", "summary"] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["pass"], true);
        assert_eq!(v["counts"]["in_flight"], 1);
        assert_eq!(v["signals"][0]["order_intent"], serde_json::Value::Null);
        // A violation no signal accounts for is served with an empty signal_id, as the contract has it.
        let mut with_ghost = r.clone();
        let ghost = crate::order::OpenOrder {
            client_oid: "so1-x".into(),
            order_id: "1".into(),
            symbol: "ETH_BTC".into(),
            side: "BUY".into(),
        };
        with_ghost.add_ghosts(&[ghost], Some(t0()));
        let served = serde_json::to_value(&with_ghost).unwrap();
        assert_eq!(served["violations"][0]["signal_id"], "");
        assert_eq!(served["violations"][0]["violation"], "GHOST_ORDER");
        let emf = emf_document("NS", &r, 1);
        assert_eq!(emf["InFlight"], 1);
        // Every count is in the line; only the ones not zero are metrics (SentSignals and InFlight here).
        for v in ViolationType::ALL {
            assert_eq!(emf[v.metric()], 0, "{}", v.metric());
        }
        assert_eq!(crate::report::metrics::declared(&emf), ["SentSignals", "InFlight"]);
        let ghosts = emf_document("NS", &with_ghost, 1);
        assert!(crate::report::metrics::declared(&ghosts).contains(&"GhostOrders"));
        assert!(
            emf.get("DuplicateIntent").is_none(),
            "a count that cannot move is not a metric"
        );
        assert_eq!(emf["UnconfirmedOrders"], 0);
        assert_eq!(emf["GhostOrders"], 0);
        assert_eq!(emf["UndeliveredMessages"], 0);
        assert_eq!(v["positions"], serde_json::json!([]));
        assert_eq!(emf["OrphanIntent"], 0);
        assert_eq!(emf["RiskSkipped"], 0);
        assert!(
            emf.get("TradingHalted").is_none(),
            "unknown, not 0, without the control row"
        );
        let mut halted = r.clone();
        let control = crate::risk::Control {
            halt: Some(crate::risk::Halt {
                announced: false,
                reason: "r".into(),
                by: "b".into(),
                at: t0(),
            }),
            ..Default::default()
        };
        halted.trading = Some((&control).into());
        assert_eq!(emf_document("NS", &halted, 1)["TradingHalted"], 1);
    }

    #[test]
    fn query_parameters() {
        assert_eq!(ReportQuery::from_params([]).unwrap(), ReportQuery::default());
        let q = ReportQuery::from_params([("hours", "12"), ("limit", "1000"), ("side", "sell")]).unwrap();
        assert_eq!((q.hours, q.limit, q.side), (12, Some(1000), Some(Side::Sell)));
        for (name, value) in [
            ("hours", "0"),
            ("hours", "721"),
            ("hours", "1.5"),
            ("limit", "0"),
            ("limit", "x"),
            ("side", "hold"),
            ("days", "1"),
        ] {
            assert_eq!(ReportQuery::from_params([(name, value)]).unwrap_err().param, name);
        }
        assert!(ReportQuery::from_params([("hours", "1"), ("hours", "2")]).is_err());
    }
}
