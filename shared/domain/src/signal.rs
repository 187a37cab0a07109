//! The signal (docs/DESIGN.md §3, §4): a row of the signals table with how its alert went, and the queue message
//! that carries it to the orchestrator, checked against that row.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decision::Decision;
use crate::ids::{IdempotencyKey, Side, SignalId, Symbol};
use crate::time::{day_of, rfc3339};
use crate::wire::wire_enum;

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
    /// `blocked_reason` of a signal that was never sent.
    BlockedReason {
        ThrottledDuplicateAlert = "THROTTLED_DUPLICATE_ALERT",
        AlertsDisabled = "ALERTS_DISABLED",
        DataMissing = "DATA_MISSING",
    }
);

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

/// Unknown fields cannot smuggle anything in: what an order is made of is checked against the signal row.
/// The body of a signals-queue message (docs/DESIGN.md §4).
///
/// Versioning rule: within a version, fields are only ever added, optional with a default, and readers ignore fields
/// they do not know — so during a staggered deploy an older orchestrator still reads a newer evaluator's messages. A
/// change an older reader must not ignore bumps `version`, which older readers refuse (→ DLQ, nothing written).
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

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../../events/signal-message.json");

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
}
