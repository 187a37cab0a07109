//! The loss breaker (docs/DESIGN.md §13): when today's realized loss in USD, from the recorded fills, reaches the
//! control row's `max_daily_loss_usd`, or one symbol's loss reaches its watchlist row's, trading halts (`halted_by: loss-breaker`) until someone resumes it. Checked
//! after a SELL's fill is recorded (the orchestrator) and on every sweeper run; the halt is a conditional change of
//! the control row, so however many checkers see the loss at once, one halts and sends the TRADING HALTED message.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use crate::flow::trading::{self, Change, TradingError};
use crate::ids::Symbol;
use crate::order::Ledger;
use crate::ports::{ControlStore, IntentStore};
use crate::risk::Halt;

/// Who halts: the control row's `halted_by`.
pub use crate::risk::LOSS_BREAKER;

/// How far back the lots of today's closes are read: a lot bought earlier than this is not matched (its close shows
/// as an unmatched sell, with no P&L).
pub const LOT_HISTORY_DAYS: i64 = 30;

/// Halts trading when today's realized loss reached the limit. `sold`: the symbols whose SELL fills may have
/// realized a loss (the SELL just decided; the sweeper's window's sells) — a per-symbol limit is read for these
/// only. With no global limit and none on these rows, nothing more is read (no 30 days of intents). Some(halt): this
/// call halted (send its message); None: no limit, not reached, or already halted.
pub async fn check_daily_loss(
    intents: &dyn IntentStore,
    control: &dyn ControlStore,
    sold: &[Symbol],
    dust: Decimal,
    now: DateTime<Utc>,
) -> Result<Option<Halt>, TradingError> {
    let c = control.control().await?;
    if c.halt.is_some() {
        return Ok(None);
    }
    let mut limited: Vec<(Symbol, Decimal)> = Vec::new();
    for symbol in sold {
        if limited.iter().any(|(s, _)| s == symbol) {
            continue;
        }
        if let Some(max) = control.symbol_limits(symbol).await?.max_daily_loss_usd {
            limited.push((symbol.clone(), max));
        }
    }
    if c.limits.max_daily_loss_usd.is_none() && limited.is_empty() {
        return Ok(None);
    }
    let history = intents
        .intents_created_between(now - Duration::days(LOT_HISTORY_DAYS), now)
        .await?;
    let today = crate::time::day_of(now);
    let ledger = Ledger::from_intents(&history, dust);
    let Some(reason) = over_limit(&ledger, &today, c.limits.max_daily_loss_usd, &limited) else {
        return Ok(None);
    };
    match trading::halt(control, &reason, LOSS_BREAKER, now).await? {
        Change::Done(c) => Ok(c.halt),
        Change::Unchanged(_) => Ok(None),
    }
}

/// The symbols of these intents with a recorded SELL fill, once each: the `sold` of [`check_daily_loss`].
pub fn sold_symbols<'a>(intents: impl IntoIterator<Item = &'a crate::order::OrderIntent>) -> Vec<Symbol> {
    let mut out: Vec<Symbol> = Vec::new();
    for i in intents {
        if i.side == crate::ids::Side::Sell && i.fill.is_some() && !out.contains(&i.symbol) {
            out.push(i.symbol.clone());
        }
    }
    out
}

/// Why today's losses stop trading, if they do: the global limit first, then each limited symbol's own.
fn over_limit(ledger: &Ledger, today: &str, global: Option<Decimal>, limited: &[(Symbol, Decimal)]) -> Option<String> {
    let realized = ledger.realized_usd_on(today);
    if let Some(max) = global.filter(|max| realized <= -*max) {
        return Some(format!(
            "loss breaker: today's realized loss {} USD reached the limit of {} USD",
            (-realized).round_dp(2),
            max.normalize()
        ));
    }
    let by_symbol = ledger.realized_usd_by_symbol_on(today);
    limited.iter().find_map(|(symbol, max)| {
        let (_, realized) = by_symbol.iter().find(|(s, _)| *s == symbol)?;
        (*realized <= -*max).then(|| {
            format!(
                "loss breaker: today's realized loss on {symbol} {} USD reached its limit of {} USD",
                (-*realized).round_dp(2),
                max.normalize()
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{self, MemoryStore};
    use crate::ids::Side;
    use crate::order::{Fill, OrderStatus};
    use crate::watchlist::WatchlistEntry;

    fn at() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
    }

    /// A BUY of 1 ETH at 100 and a SELL of it at 96: a realized loss of 4 USD today (no fees).
    fn store_with_a_loss(symbol_limit: Option<Decimal>) -> MemoryStore {
        let sym = Symbol::parse("ETH_USDT").unwrap();
        let mut entry = WatchlistEntry::new(sym.clone());
        entry.limits.max_daily_loss_usd = symbol_limit;
        let store = MemoryStore::with_watchlist(vec![entry]);
        for (n, side, price) in [(1, Side::Buy, 100), (2, Side::Sell, 96)] {
            let t = at() + Duration::seconds(n);
            let s = fakes::sent_signal(&sym, side, n * 1000, Decimal::from(100), t);
            let mut i = fakes::placed_intent(&s, t);
            i.fill = Some(Fill {
                status: OrderStatus::Filled,
                filled_quantity: Decimal::ONE,
                average_price: Decimal::from(price),
                fee: Decimal::ZERO,
                fee_currency: "USDT".into(),
                updated_at: t,
                version: 1,
                increments: 1,
            });
            store.insert_intent(i);
        }
        store
    }

    async fn check(store: &MemoryStore) -> Option<Halt> {
        let now = at() + Duration::minutes(1);
        let sold = [Symbol::parse("ETH_USDT").unwrap()];
        check_daily_loss(store, store, &sold, Decimal::new(1, 8), now)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_symbols_own_limit_halts_when_no_global_limit_is_set() {
        let store = store_with_a_loss(Some(Decimal::from(4)));
        let halt = check(&store).await.expect("halted");
        assert_eq!(halt.by, LOSS_BREAKER);
        assert!(
            halt.reason.contains("ETH_USDT 4 USD reached its limit of 4 USD"),
            "{}",
            halt.reason
        );
        assert_eq!(check(&store).await, None, "halted once");
    }

    #[tokio::test]
    async fn a_loss_under_every_limit_changes_nothing() {
        let store = store_with_a_loss(Some(Decimal::from(5)));
        assert_eq!(check(&store).await, None);
        assert_eq!(store.control().await.unwrap().halt, None);
        let unlimited = store_with_a_loss(None);
        assert_eq!(check(&unlimited).await, None, "no limit anywhere: never halts");
    }
}
