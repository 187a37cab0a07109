//! The alerts outbox's rows (docs/DESIGN.md §3): every Telegram message is written here before it is sent, under an
//! id that names which signal or order it is about, and resent until it is delivered.

use chrono::{DateTime, Utc};

use crate::ids::{IdempotencyKey, Side, SignalId, Symbol};
use crate::wire::wire_enum;

wire_enum!(
    /// `status` of an alerts outbox row.
    AlertStatus { Pending = "PENDING", Sent = "SENT", Failed = "FAILED" }
);

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
