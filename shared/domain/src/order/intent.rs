//! The order intent (docs/DESIGN.md §3): a row of the order_intents table, its status and its execution mode, and what
//! an intent with its fill and protection is — an entry to protect, the protection messages it implies, the P&L of
//! its exits.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::decision::ReasonCode;
use crate::ids::{ClientOid, IdempotencyKey, Side, SignalId, Symbol};
use crate::money::Sizing;
use crate::order::fill::{Fill, PlacedOrder};
use crate::order::protection::{Leg, Oco, Protection, ProtectionStatus, ProtectionView};
use crate::risk::CounterDelta;
use crate::wire::wire_enum;

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
    pub protection: Option<Protection>,
    /// A SELL's: the protected entries of its symbol it takes off their stops, recorded before their cancel is
    /// asked (docs/DESIGN.md §14). A SELL with any sells all that is held, on every delivery.
    pub releases: Vec<IdempotencyKey>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PlacedOrder {
    pub fn of(intent: &OrderIntent) -> Self {
        Self {
            client_oid: intent.client_oid.clone(),
            symbol: intent.symbol.clone(),
            side: intent.side,
            sizing: intent.sizing.clone(),
        }
    }
}

impl Protection {
    /// The OCO as the exchange needs it to find (and the paper exchange to trigger) its legs.
    pub fn oco(&self, intent: &OrderIntent) -> Oco {
        Oco {
            symbol: intent.symbol.clone(),
            quantity: self.quantity,
            stop_price: self.stop_price,
            take_profit_price: self.take_profit_price,
            take_profit_oid: Leg::TakeProfit.client_oid(&intent.idempotency_key),
            stop_loss_oid: Leg::StopLoss.client_oid(&intent.idempotency_key),
            market_ms: self.market_ms,
            cancel_ms: self.cancel_ms,
        }
    }
}

/// Each symbol's latest filled BUY's protection among `intents` (by creation), for the report's positions.
pub fn latest_by_symbol<'a>(
    intents: impl IntoIterator<Item = &'a OrderIntent>,
) -> std::collections::BTreeMap<Symbol, ProtectionView> {
    let mut latest: std::collections::BTreeMap<Symbol, &OrderIntent> = std::collections::BTreeMap::new();
    for i in intents.into_iter().filter(|i| i.protection.is_some()) {
        let slot = latest.entry(i.symbol.clone()).or_insert(i);
        if (i.created_at, &i.idempotency_key) > (slot.created_at, &slot.idempotency_key) {
            *slot = i;
        }
    }
    latest
        .into_iter()
        .filter_map(|(s, i)| {
            let p = i.protection.as_ref()?;
            let view = ProtectionView {
                status: p.status,
                stop_price: p.stop_price.normalize().to_string(),
                take_profit_price: p.take_profit_price.normalize().to_string(),
                client_oids: [Leg::TakeProfit, Leg::StopLoss]
                    .iter()
                    .map(|l| l.client_oid(&i.idempotency_key).as_str().to_string())
                    .collect(),
            };
            Some((s, view))
        })
        .collect()
}

/// Whether an intent is a BUY whose fill is final with something filled: a position that protection is about.
pub fn is_entry(intent: &OrderIntent) -> bool {
    intent.side == Side::Buy
        && intent.status == IntentStatus::OrderPlaced
        && intent
            .fill
            .as_ref()
            .is_some_and(|f| f.status.is_terminal() && f.filled_quantity > Decimal::ZERO)
}

/// Whether the protection of an entry still needs work (not started, or not final).
pub fn needs_work(intent: &OrderIntent) -> bool {
    is_entry(intent) && !intent.protection.as_ref().is_some_and(|p| p.status.is_final())
}

/// The realized P&L of the closing fills against the entry, in the quote currency: proceeds (value − a quote fee)
/// less the entry's cost (value + a quote fee) of the share sold. None when the numbers are out of range.
pub fn realized_quote(intent: &OrderIntent, p: &Protection) -> Option<Decimal> {
    let entry = intent.fill.as_ref()?;
    let quote = crate::money::quote_currency(&intent.symbol);
    let quote_fee = |fee: Decimal, currency: &str| if currency == quote { fee } else { Decimal::ZERO };
    let held = entry.net_quantity(&intent.symbol);
    if held.is_zero() {
        return None;
    }
    let cost = entry
        .filled_quantity
        .checked_mul(entry.average_price)?
        .checked_add(quote_fee(entry.fee, &entry.fee_currency))?;
    let mut proceeds = Decimal::ZERO;
    for f in &p.fills {
        let value = f.filled_quantity.checked_mul(f.average_price)?;
        proceeds = proceeds.checked_add(value.checked_sub(quote_fee(f.fee, &f.fee_currency))?)?;
    }
    let share = cost.checked_mul(p.sold())?.checked_div(held)?;
    Some(proceeds.checked_sub(share)?.round_dp(12).normalize())
}

/// The ids of every protection message an entry's record implies (what the sweeper resends while PENDING).
pub fn message_ids(intent: &OrderIntent) -> Vec<String> {
    let Some(p) = &intent.protection else {
        return Vec::new();
    };
    let key = &intent.idempotency_key;
    // SL/TP PLACED was written with the move to ACTIVE (answered or found by lookup): `placed_at` says it happened.
    let placed = p.placed_at.is_some();
    let failed = matches!(p.status, ProtectionStatus::Flattening | ProtectionStatus::Failed)
        || p.fill_of(Leg::Flatten).is_some();
    // (A FAILED protection wrote its PROTECTION FAILED row on the way there, whichever way it failed.)
    let closed = p.status == ProtectionStatus::Closed;
    [
        (placed, crate::outbox::ProtectionEvent::Placed),
        (failed, crate::outbox::ProtectionEvent::Failed),
        (closed, crate::outbox::ProtectionEvent::Closed),
    ]
    .into_iter()
    .filter(|(due, _)| *due)
    .map(|(_, e)| crate::outbox::AlertId::Protection(key.clone(), e).to_string())
    .collect()
}
