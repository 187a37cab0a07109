//! A signal's decision trace (docs/DESIGN.md §6): its type, its reason code, and what each code means.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::wire::wire_enum;

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

#[cfg(test)]
mod tests {
    use super::*;

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
