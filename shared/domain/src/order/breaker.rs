//! The loss breaker (docs/DESIGN.md §13): when today's realized loss in USD, from the recorded fills, reaches the
//! control row's `max_daily_loss_usd`, trading halts (`halted_by: loss-breaker`) until someone resumes it. Checked
//! after a SELL's fill is recorded (the orchestrator) and on every sweeper run; the halt is a conditional change of
//! the control row, so however many checkers see the loss at once, one halts and sends the TRADING HALTED message.

use chrono::{DateTime, Duration, Utc};

use crate::order::Ledger;
use crate::ports::{ControlStore, IntentStore};
use crate::risk::Halt;
use crate::trading::{self, Change, TradingError};

/// Who halts: the control row's `halted_by`.
pub const LOSS_BREAKER: &str = "loss-breaker";

/// How far back the lots of today's closes are read: a lot bought earlier than this is not matched (its close shows
/// as an unmatched sell, with no P&L).
pub const LOT_HISTORY_DAYS: i64 = 30;

/// Halts trading when today's realized loss reached the limit. Some(halt): this call halted (send its message);
/// None: no limit, not reached, or already halted.
pub async fn check_daily_loss(
    intents: &dyn IntentStore,
    control: &dyn ControlStore,
    dust: rust_decimal::Decimal,
    now: DateTime<Utc>,
) -> Result<Option<Halt>, TradingError> {
    let c = control.control().await?;
    let Some(max) = c.limits.max_daily_loss_usd else {
        return Ok(None);
    };
    if c.halt.is_some() {
        return Ok(None);
    }
    let history = intents
        .intents_created_between(now - Duration::days(LOT_HISTORY_DAYS), now)
        .await?;
    let today = crate::model::day_of(now);
    let realized = Ledger::from_intents(&history, dust).realized_usd_on(&today);
    if realized > -max {
        return Ok(None);
    }
    let reason = format!(
        "loss breaker: today's realized loss {} USD reached the limit of {} USD",
        (-realized).round_dp(2),
        max.normalize()
    );
    match trading::halt(control, &reason, LOSS_BREAKER, now).await? {
        Change::Done(c) => Ok(c.halt),
        Change::Unchanged(_) => Ok(None),
    }
}
