//! Operating the kill switch and the limits (docs/DESIGN.md §11): halt, resume, set limits, status, and the
//! circuit breaker. Every change is a conditional replace of the control row from the version read, retried on a
//! race, so two operators (or an operator and the breaker) never overwrite each other; each change bumps the
//! version, which the very next claim checks.

use chrono::{DateTime, Utc};

use crate::decision::{Decision, DecisionType};
use crate::ports::{ControlStore, StoreError};
use crate::risk::{self, Control, Halt, RiskLimits, Usage};

/// Attempts at a conditional replace before giving up (each loses only to another change).
const ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum TradingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("refusing limits: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("the control row changed {ATTEMPTS} times while being edited; try again")]
    Contended,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Written: the control row as it is now.
    Done(Control),
    /// Nothing to do (already halted, already running): the row as it is.
    Unchanged(Control),
}

impl Change {
    pub fn control(&self) -> &Control {
        match self {
            Change::Done(c) | Change::Unchanged(c) => c,
        }
    }
}

async fn change(store: &dyn ControlStore, edit: impl Fn(&Control) -> Option<Control>) -> Result<Change, TradingError> {
    try_change(store, |c| Ok(edit(c))).await
}

/// [`change`] with an edit that may refuse the row it is given (a patch that makes the limits invalid).
async fn try_change(
    store: &dyn ControlStore,
    edit: impl Fn(&Control) -> Result<Option<Control>, TradingError>,
) -> Result<Change, TradingError> {
    for _ in 0..ATTEMPTS {
        let current = store.control().await?;
        let Some(next) = edit(&current)? else {
            return Ok(Change::Unchanged(current));
        };
        if store.replace_control(current.version, &next).await? {
            return Ok(Change::Done(Control {
                version: current.version.saturating_add(1),
                ..next
            }));
        }
    }
    Err(TradingError::Contended)
}

/// Stops trading: the next claim anywhere is SKIPPED with TRADING_HALTED. Halting a halted system changes nothing
/// (the first reason stays).
pub async fn halt(store: &dyn ControlStore, reason: &str, by: &str, at: DateTime<Utc>) -> Result<Change, TradingError> {
    change(store, |c| {
        c.halt.is_none().then(|| Control {
            halt: Some(Halt {
                announced: false,
                reason: reason.to_string(),
                by: by.to_string(),
                at,
            }),
            ..c.clone()
        })
    })
    .await
}

/// Resumes trading (and, with it, re-arms the circuit breaker: its run starts again from zero).
pub async fn resume(store: &dyn ControlStore) -> Result<Change, TradingError> {
    let done = change(store, |c| {
        c.halt.is_some().then(|| Control {
            halt: None,
            ..c.clone()
        })
    })
    .await?;
    store.record_streak(false).await?;
    Ok(done)
}

/// The settings of the control row an operator may change: the global limits and the breaker's threshold.
pub const GLOBAL_LIMIT_KEYS: [&str; 5] = [
    "max_order_usd",
    "max_orders_per_day",
    "max_notional_usd_per_day",
    "max_daily_loss_usd",
    "breaker_failures",
];

fn limit_problems(limits: &RiskLimits, breaker_failures: Option<u32>) -> Vec<String> {
    let mut problems = limits.problems("global");
    if breaker_failures == Some(0) {
        problems.push("breaker_failures must be at least 1 (null switches the breaker off)".into());
    }
    if limits.max_exposure_usd.is_some() {
        problems.push("max_exposure_usd is a per-symbol limit (set it on the watchlist row)".into());
    }
    problems
}

/// Changes only the given settings: `{"max_orders_per_day": 3}` leaves every other limit and the breaker as they
/// are, `null` clears one (no limit; for `breaker_failures`, the breaker off), a name not in
/// [`GLOBAL_LIMIT_KEYS`] is refused — so a field left out never switches a protection off. The result is validated
/// as a whole and written as a conditional replace of the version it was computed from (retried on a race).
pub async fn patch_limits(
    store: &dyn ControlStore,
    patch: &serde_json::Map<String, serde_json::Value>,
) -> Result<Change, TradingError> {
    if let Some(unknown) = patch.keys().find(|k| !GLOBAL_LIMIT_KEYS.contains(&k.as_str())) {
        return Err(TradingError::Invalid(vec![format!(
            "unknown setting {unknown:?}: one of {}",
            GLOBAL_LIMIT_KEYS.join(", ")
        )]));
    }
    try_change(store, |current| {
        let mut merged = serde_json::to_value(&current.limits)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        merged.insert("breaker_failures".into(), serde_json::json!(current.breaker_failures));
        for (k, v) in patch {
            merged.insert(k.clone(), v.clone());
        }
        let breaker =
            match merged.remove("breaker_failures") {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                    TradingError::Invalid(vec![format!("breaker_failures {v} is not a whole number")])
                })?),
            };
        merged.retain(|_, v| !v.is_null());
        let limits: RiskLimits = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| TradingError::Invalid(vec![format!("the limits are not valid: {e}")]))?;
        let problems = limit_problems(&limits, breaker);
        if !problems.is_empty() {
            return Err(TradingError::Invalid(problems));
        }
        let next = Control {
            limits,
            breaker_failures: breaker,
            ..current.clone()
        };
        Ok((next != *current).then_some(next))
    })
    .await
}

/// Replaces the global limits and the breaker's threshold (every setting: one left out is off). Operators use
/// [`patch_limits`]; this is for tests and tools that state the whole control.
pub async fn set_limits(
    store: &dyn ControlStore,
    limits: &RiskLimits,
    breaker_failures: Option<u32>,
) -> Result<Change, TradingError> {
    let problems = limit_problems(limits, breaker_failures);
    if !problems.is_empty() {
        return Err(TradingError::Invalid(problems));
    }
    change(store, |c| {
        let next = Control {
            limits: limits.clone(),
            breaker_failures,
            ..c.clone()
        };
        (next != *c).then_some(next)
    })
    .await
}

/// Sends the TRADING HALTED message of an automatic halt that has not gone out yet, and records on the control row
/// that it did (a conditional change: two senders at once may both send, never neither). The breaker that halts
/// calls it at once; the sweeper calls it on every run, so a message Telegram refused (or a crash between the halt
/// and the send) goes out later — the halt's only outbox. Ok(true): sent now.
pub async fn announce_halt(
    store: &dyn ControlStore,
    notifier: &dyn crate::ports::Notifier,
) -> Result<bool, TradingError> {
    let Some(halt) = store.control().await?.halt.filter(|h| h.is_automatic() && !h.announced) else {
        return Ok(false);
    };
    if let Err(e) = notifier.send(&crate::messages::trading_halted_text(&halt)).await {
        tracing::error!(error = %e, "the TRADING HALTED message was not delivered; the sweeper sends it again");
        return Ok(false);
    }
    change(store, |c| {
        let h = c
            .halt
            .as_ref()
            .filter(|h| h.at == halt.at && h.by == halt.by && !h.announced)?;
        Some(Control {
            halt: Some(Halt {
                announced: true,
                ..h.clone()
            }),
            ..c.clone()
        })
    })
    .await?;
    Ok(true)
}

/// The control row and today's global usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub control: Control,
    pub day: String,
    pub today: Usage,
}

pub async fn status(store: &dyn ControlStore, now: DateTime<Utc>) -> Result<Status, TradingError> {
    let day = crate::time::day_of(now);
    Ok(Status {
        control: store.control().await?,
        today: store.usage(&risk::global_day_key(&day)).await?,
        day,
    })
}

impl Status {
    /// Plain text for a terminal or a Telegram message.
    pub fn text(&self) -> String {
        let c = &self.control;
        let state = match &c.halt {
            Some(h) => format!("HALTED since {} by {}: {}", crate::time::rfc3339(h.at), h.by, h.reason),
            None => "trading".to_string(),
        };
        let of = |v: Option<String>| v.unwrap_or_else(|| "no limit".into());
        format!(
            "State: {state}\nToday ({} UTC): {} orders, {} USD reserved\nLimits: {}\nCircuit breaker: {} (control row version {})",
            self.day,
            self.today.orders,
            self.today.usd.normalize(),
            limits_text(&c.limits),
            of(c.breaker_failures.map(|n| format!("halt after {n} consecutive account failures"))),
            c.version,
        )
    }
}

pub fn limits_text(l: &RiskLimits) -> String {
    let of = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    format!(
        "order ≤ {}, orders/day ≤ {}, notional/day ≤ {}, realized loss/day < {}",
        of(l.max_order_usd.map(|v| format!("{} USD", v.normalize()))),
        of(l.max_orders_per_day.map(|v| v.to_string())),
        of(l.max_notional_usd_per_day.map(|v| format!("{} USD", v.normalize()))),
        of(l.max_daily_loss_usd.map(|v| format!("{} USD", v.normalize()))),
    )
}

/// The circuit breaker, told of one order decided this delivery: an account failure (authentication, signature,
/// insufficient funds for a BUY: [`risk::is_account_failure`]) adds to the run, a placed order ends it. When the run reaches the threshold, trading is
/// halted, and the halt is returned (only by the change that halted) for its one TRADING HALTED message.
pub async fn record_outcome(
    store: &dyn ControlStore,
    control: &Control,
    decision: &Decision,
    side: crate::ids::Side,
    now: DateTime<Utc>,
) -> Result<Option<Halt>, TradingError> {
    let Some(threshold) = control.breaker_failures else {
        return Ok(None);
    };
    if decision.decision_type == DecisionType::Executed {
        store.record_streak(false).await?;
        return Ok(None);
    }
    if !risk::is_account_failure(decision.reason_code, side) {
        return Ok(None);
    }
    let run = store.record_streak(true).await?;
    if run < threshold {
        return Ok(None);
    }
    let reason = format!(
        "circuit breaker: {run} consecutive account failures, the last {} ({})",
        decision.reason_code, decision.reason_message
    );
    match halt(store, &crate::text::truncate(&reason, 300), risk::CIRCUIT_BREAKER, now).await? {
        Change::Done(c) => Ok(c.halt),
        Change::Unchanged(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::MemoryStore;
    use rust_decimal::Decimal;

    fn patch(json: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn a_patch_changes_only_the_settings_it_names() {
        let store = MemoryStore::default();
        let before = store.control().await.unwrap();
        assert_eq!(before.breaker_failures, Some(risk::DEFAULT_BREAKER_FAILURES));
        let c = patch_limits(&store, &patch(r#"{"max_orders_per_day": 3}"#))
            .await
            .unwrap();
        let after = c.control();
        assert_eq!(after.limits.max_orders_per_day, Some(3));
        assert_eq!(
            after.breaker_failures, before.breaker_failures,
            "the breaker stays armed"
        );
        assert_eq!(
            after.limits.max_notional_usd_per_day, before.limits.max_notional_usd_per_day,
            "the daily cap stays"
        );
        // null clears one setting; the same patch again changes nothing.
        let cleared = patch_limits(
            &store,
            &patch(r#"{"max_notional_usd_per_day": null, "max_daily_loss_usd": "50"}"#),
        )
        .await
        .unwrap();
        assert_eq!(cleared.control().limits.max_notional_usd_per_day, None);
        assert_eq!(cleared.control().limits.max_daily_loss_usd, Some(Decimal::from(50)));
        assert_eq!(cleared.control().limits.max_orders_per_day, Some(3));
        let again = patch_limits(&store, &patch(r#"{"max_daily_loss_usd": "50"}"#))
            .await
            .unwrap();
        assert!(matches!(again, Change::Unchanged(_)));
        let off = patch_limits(&store, &patch(r#"{"breaker_failures": null}"#))
            .await
            .unwrap();
        assert_eq!(
            off.control().breaker_failures,
            None,
            "null is the explicit way to switch it off"
        );
    }

    #[tokio::test]
    async fn an_automatic_halt_is_announced_once_even_when_telegram_refused_it_first() {
        let store = MemoryStore::default();
        let notifier = crate::fakes::MemoryNotifier::default();
        let now = chrono::Utc::now();
        halt(
            &store,
            "loss breaker: 60 USD lost",
            crate::flow::breaker::LOSS_BREAKER,
            now,
        )
        .await
        .unwrap();
        assert!(store.control().await.unwrap().halt.unwrap().is_automatic());
        notifier.set_failing(true);
        assert!(
            !announce_halt(&store, &notifier).await.unwrap(),
            "Telegram down: not sent"
        );
        assert!(!store.control().await.unwrap().halt.unwrap().announced);
        notifier.set_failing(false);
        assert!(announce_halt(&store, &notifier).await.unwrap(), "sent on the next try");
        assert!(store.control().await.unwrap().halt.unwrap().announced);
        assert!(!announce_halt(&store, &notifier).await.unwrap(), "and never again");
        let sent = notifier.sent();
        assert_eq!(
            sent.iter().filter(|t| t.contains("TRADING HALTED")).count(),
            1,
            "{sent:?}"
        );
        // A person's halt is answered where it was given: nothing to announce.
        resume(&store).await.unwrap();
        halt(&store, "maintenance", "@ops", now).await.unwrap();
        assert!(!announce_halt(&store, &notifier).await.unwrap());
    }

    #[tokio::test]
    async fn a_patch_with_an_unknown_or_invalid_setting_changes_nothing() {
        let store = MemoryStore::default();
        for bad in [
            r#"{"max_orders": 3}"#,
            r#"{"breaker_failures": 0}"#,
            r#"{"max_order_usd": "-5"}"#,
            r#"{"max_exposure_usd": "100"}"#,
            r#"{"breaker_failures": "three"}"#,
        ] {
            let e = patch_limits(&store, &patch(bad)).await.unwrap_err();
            assert!(matches!(e, TradingError::Invalid(_)), "{bad}: {e}");
        }
        assert_eq!(store.control().await.unwrap().version, 0, "nothing was written");
    }
}
