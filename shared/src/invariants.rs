//! The invariants report (DESIGN.md §8): for every sent signal in a window — it has an order intent, it has a
//! decision, a failed order has its Telegram message, and no intent is stuck past its lease. Pure: it takes the rows
//! and the time, and computes every number from them. [`collect`] gathers the rows through the ports.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::ids::{IdempotencyKey, Side};
use crate::model::{rfc3339, AlertRecord, AlertStatus, DecisionType, IntentStatus, OrderIntent, ReasonCode, SignalRecord};
use crate::ports::{AlertStore, IntentStore, SignalStore, StoreError};

/// A validated diagnostics query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportQuery {
    pub hours: u32,
    pub limit: usize,
    pub side: Option<Side>,
}

impl Default for ReportQuery {
    fn default() -> Self {
        Self { hours: 168, limit: 500, side: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViolationType {
    MissingIntent,
    NullDecision,
    FailedWithoutTelegram,
    NonTerminalIntent,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntentView {
    pub idempotency_key: String,
    pub status: IntentStatus,
    pub order_id: Option<String>,
    pub client_oid: String,
    pub error_message: Option<String>,
    pub created_at: String,
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
    pub signal_id: String,
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
}

/// Builds the report over `signals` (already the sent signals of the window, newest first, at most `limit`).
pub fn evaluate(
    query: &ReportQuery,
    signals: &[SignalRecord],
    intents: &HashMap<IdempotencyKey, OrderIntent>,
    failure_alerts: &HashMap<String, AlertRecord>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Report {
    let mut counts = Counts { total_signals: signals.len(), sent_signals: signals.len(), ..Counts::default() };
    let mut summary = Summary::default();
    let mut violations = Vec::new();
    let mut views = Vec::with_capacity(signals.len());
    let now_ms = now.timestamp_millis();

    for s in signals {
        let past_grace = now - s.created_at > grace;
        let intent = intents.get(&s.idempotency_key());
        let mut found: Vec<(ViolationType, String, serde_json::Value)> = Vec::new();

        match intent {
            None if past_grace => found.push((
                ViolationType::MissingIntent,
                "Signal was sent but no order_intent exists".into(),
                serde_json::json!({ "idempotency_key": s.idempotency_key().as_str() }),
            )),
            None => counts.in_flight += 1,
            Some(i) => {
                match i.status {
                    IntentStatus::OrderPlaced => counts.placed += 1,
                    IntentStatus::OrderFailed => counts.failed += 1,
                    _ => {}
                }
                if !i.status.is_terminal() && i.lease_until_ms + grace.num_milliseconds() < now_ms {
                    found.push((
                        ViolationType::NonTerminalIntent,
                        "Order intent status is not terminal".into(),
                        serde_json::json!({ "idempotency_key": i.idempotency_key.as_str(), "status": i.status, "lease_until_ms": i.lease_until_ms }),
                    ));
                }
                if i.status == IntentStatus::OrderFailed && now - i.updated_at > grace {
                    let alert_id = AlertRecord::failure_id(&i.idempotency_key);
                    let alert = failure_alerts.get(&alert_id);
                    if alert.is_none_or(|a| a.status != AlertStatus::Sent) {
                        found.push((
                            ViolationType::FailedWithoutTelegram,
                            "ORDER_FAILED but no Telegram failure message was sent".into(),
                            serde_json::json!({ "alert_id": alert_id, "alert_status": alert.map(|a| a.status) }),
                        ));
                    }
                }
            }
        }

        match &s.decision {
            Some(d) => {
                match d.decision_type {
                    DecisionType::Executed => summary.executed += 1,
                    DecisionType::Failed => summary.failed += 1,
                    DecisionType::Skipped => summary.skipped += 1,
                }
                if d.reason_code == ReasonCode::IdempotencyBlocked {
                    counts.dedup += 1;
                }
            }
            None if past_grace => found.push((
                ViolationType::NullDecision,
                "Signal has null decision fields".into(),
                serde_json::json!({ "decision_type": null, "reason_code": null, "reason_message": null }),
            )),
            None if intent.is_some() => counts.in_flight += 1,
            None => {}
        }

        match s.side {
            Side::Buy => summary.buy_signals += 1,
            Side::Sell => summary.sell_signals += 1,
        }
        for (v, _, _) in &found {
            match v {
                ViolationType::MissingIntent => counts.missing_intent += 1,
                ViolationType::NullDecision => counts.null_decisions += 1,
                ViolationType::FailedWithoutTelegram => counts.failed_without_telegram += 1,
                ViolationType::NonTerminalIntent => counts.non_terminal_intent += 1,
            }
        }
        let timestamp = rfc3339(s.created_at);
        violations.extend(found.iter().map(|(v, message, details)| Violation {
            signal_id: s.signal_id.to_string(),
            timestamp: timestamp.clone(),
            symbol: s.symbol.to_string(),
            side: s.side,
            violation: *v,
            message: message.clone(),
            details: details.clone(),
        }));
        views.push(view(s, intent, found.iter().map(|(v, _, _)| *v).collect(), timestamp));
    }
    summary.null_decisions = counts.null_decisions;
    Report {
        total: views.len(),
        signals: views,
        hours: query.hours,
        counts,
        pass: violations.is_empty(),
        violations,
        summary,
    }
}

fn view(s: &SignalRecord, intent: Option<&OrderIntent>, violations: Vec<ViolationType>, timestamp: String) -> SignalView {
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
            idempotency_key: i.idempotency_key.to_string(),
            status: i.status,
            order_id: i.order_id.clone(),
            client_oid: i.client_oid.clone(),
            error_message: i.error_message.clone(),
            created_at: rfc3339(i.created_at),
        }),
        violations,
    }
}

/// Reads the window's sent signals, their intents and failure alerts through the ports and evaluates them.
pub async fn collect(
    signals: &dyn SignalStore,
    intents: &dyn IntentStore,
    alerts: &dyn AlertStore,
    query: &ReportQuery,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Report, StoreError> {
    let since = now - Duration::hours(i64::from(query.hours));
    let mut sent: Vec<SignalRecord> = signals
        .created_between(since, now)
        .await?
        .into_iter()
        .filter(|s| !s.blocked && query.side.is_none_or(|side| s.side == side))
        .collect();
    sent.truncate(query.limit);
    let keys: Vec<IdempotencyKey> = sent.iter().map(SignalRecord::idempotency_key).collect();
    let intent_map: HashMap<IdempotencyKey, OrderIntent> =
        intents.get_many(&keys).await?.into_iter().map(|i| (i.idempotency_key.clone(), i)).collect();
    let alert_ids: Vec<String> = intent_map
        .values()
        .filter(|i| i.status == IntentStatus::OrderFailed)
        .map(|i| AlertRecord::failure_id(&i.idempotency_key))
        .collect();
    let alert_map: HashMap<String, AlertRecord> =
        alerts.get_many(&alert_ids).await?.into_iter().map(|a| (a.alert_id.clone(), a)).collect();
    Ok(evaluate(query, &sent, &intent_map, &alert_map, now, grace))
}
