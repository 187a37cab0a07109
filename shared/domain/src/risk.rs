//! Risk limits and the kill switch (docs/DESIGN.md §11).
//!
//! Limits are in USD (the watchlist's unit). The global ones and the halt live in one control row; per-symbol ones
//! on the symbol's watchlist row. The claim that creates an order intent also reserves the order's USD amount against
//! the day's counters, in the same transaction, each counter update conditioned on `spent ≤ limit − this` (and
//! `orders < max`) — so concurrent claims can never pass a limit — and checks that the control row is still the
//! version this container knows (a halt or a changed limit bumps it: the next claim sees it, with no extra read).
//!
//! The reservation is the watchlist's USD amount, an upper bound of what is sent (sizing only rounds down). It is
//! released when the order ends without reaching the exchange or refused by it (FAILED, or SKIPPED after the
//! claim) and kept for placed orders and while the outcome is unknown.
#![deny(clippy::arithmetic_side_effects)]

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decision::ReasonCode;
use crate::ids::{Side, Symbol};

/// The global daily notional cap when no control row says otherwise: small enough that a misconfigured watchlist
/// cannot spend much in a day, large enough for ten orders of the default 100 USD.
pub const DEFAULT_DAILY_NOTIONAL_USD: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);
/// The circuit breaker's default: halt after this many consecutive definitive exchange failures.
pub const DEFAULT_BREAKER_FAILURES: u32 = 3;

/// Limits in USD; None = no limit. The same shape globally (control row) and per symbol (watchlist row);
/// `max_exposure_usd` is per symbol only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskLimits {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    pub max_order_usd: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_orders_per_day: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    pub max_notional_usd_per_day: Option<Decimal>,
    /// BUY notional minus SELL notional placed by this system for the symbol.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    pub max_exposure_usd: Option<Decimal>,
    /// The loss breaker (globally on the control row, per symbol on its watchlist row): trading halts (`halted_by: loss-breaker`) when today's realized loss in USD,
    /// from the recorded fills, reaches this (docs/DESIGN.md §13).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    pub max_daily_loss_usd: Option<Decimal>,
}

impl RiskLimits {
    /// Everything wrong with these limits (empty: valid). Limits are positive; 0 would mean "never trade", which is
    /// what `trade_enabled = false` or a halt say more clearly.
    pub fn problems(&self, whose: &str) -> Vec<String> {
        let mut out = Vec::new();
        let decimals = [
            ("max_order_usd", self.max_order_usd),
            ("max_notional_usd_per_day", self.max_notional_usd_per_day),
            ("max_exposure_usd", self.max_exposure_usd),
            ("max_daily_loss_usd", self.max_daily_loss_usd),
        ];
        for (name, v) in decimals {
            if let Some(v) = v.filter(|v| *v <= Decimal::ZERO) {
                out.push(format!(
                    "{whose}: {name} {v} must be more than 0 (leave it out for no limit)"
                ));
            }
        }
        if self.max_orders_per_day == Some(0) {
            out.push(format!(
                "{whose}: max_orders_per_day must be at least 1 (leave it out for no limit)"
            ));
        }
        out
    }
}

/// `halted_by` of the circuit breaker's halt (`trading::record_outcome`).
pub const CIRCUIT_BREAKER: &str = "circuit-breaker";
/// `halted_by` of the loss breaker's halt (`flow::breaker`).
pub const LOSS_BREAKER: &str = "loss-breaker";

/// Who stopped trading, why and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
    /// The TRADING HALTED message of an automatic halt (a breaker's) was delivered. The sweeper sends it when the
    /// breaker that halted could not ([`crate::flow::trading::announce_halt`]); an operator's halt is answered where it was
    /// given (its command's reply).
    #[serde(default)]
    pub announced: bool,
}

impl Halt {
    /// Halted by a breaker ([`CIRCUIT_BREAKER`], [`LOSS_BREAKER`]) rather than by a person.
    pub fn is_automatic(&self) -> bool {
        [CIRCUIT_BREAKER, LOSS_BREAKER].contains(&self.by.as_str())
    }
}

/// The control row: the kill switch, the global limits and the circuit breaker. `version` is 0 while no row exists
/// (the defaults apply) and moves on with every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    pub version: u64,
    pub halt: Option<Halt>,
    pub limits: RiskLimits,
    /// Halt after this many consecutive definitive exchange failures (None: the breaker is off).
    pub breaker_failures: Option<u32>,
}

impl Default for Control {
    /// No control row: trading on, the default daily notional cap, the breaker at its default.
    fn default() -> Self {
        Self {
            version: 0,
            halt: None,
            limits: RiskLimits {
                max_notional_usd_per_day: Some(DEFAULT_DAILY_NOTIONAL_USD),
                ..RiskLimits::default()
            },
            breaker_failures: Some(DEFAULT_BREAKER_FAILURES),
        }
    }
}

const MAX_CACHED_SYMBOLS: usize = 10_000;

/// The control row and the symbols' watchlist limits as a container last saw them. The claim checks both are still
/// what it was built from (the row's version; every limit attribute of the symbol's row), so a stale copy costs one
/// refused transaction, never a wrong decision, and a warm claim reads neither.
#[derive(Debug, Default)]
pub struct ControlCache {
    control: std::sync::Mutex<Option<Control>>,
    symbols: std::sync::Mutex<std::collections::HashMap<Symbol, RiskLimits>>,
}

impl ControlCache {
    pub fn get(&self) -> Option<Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn set(&self, control: Control) {
        *self.control.lock().unwrap_or_else(|e| e.into_inner()) = Some(control);
    }
    /// The symbol's limits as last seen (None: not seen by this container).
    pub fn symbol_limits(&self, symbol: &Symbol) -> Option<RiskLimits> {
        self.symbols
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(symbol)
            .cloned()
    }
    pub fn set_symbol_limits(&self, symbol: &Symbol, limits: RiskLimits) {
        let mut symbols = self.symbols.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded whatever the queue brings: a watchlist is far smaller; past it, the cache starts again.
        if symbols.len() >= MAX_CACHED_SYMBOLS && !symbols.contains_key(symbol) {
            symbols.clear();
        }
        symbols.insert(symbol.clone(), limits);
    }
}

/// A change to the counters of the risk table: `usd` and `orders` are added (negative to release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterDelta {
    pub key: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub usd: Decimal,
    pub orders: i64,
}

impl CounterDelta {
    /// The delta that undoes this one.
    pub fn released(&self) -> Self {
        Self {
            key: self.key.clone(),
            usd: Decimal::ZERO.checked_sub(self.usd).unwrap_or(Decimal::ZERO),
            orders: self.orders.saturating_neg(),
        }
    }
}

/// Which limits a counter carries: the words of a refusal follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// The whole account's day (`day#{day}`).
    GlobalDay,
    /// One symbol's day (`day#{day}#{symbol}`).
    SymbolDay,
    /// One symbol's open exposure (`exposure#{symbol}`).
    Exposure,
}

/// One counter the claim adds to, with the condition that keeps it within a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub delta: CounterDelta,
    pub scope: LimitScope,
    /// The counter's `usd` must be at most this before the add (the limit minus this order).
    pub usd_at_most: Option<Decimal>,
    /// The counter's `orders` must be under this before the add.
    pub orders_under: Option<u32>,
    /// The limits, for the words when one is hit.
    pub max_usd: Option<Decimal>,
}

impl Reservation {
    /// The claim's condition on the counter: room for this order under each limit.
    pub fn admits(&self, used: Usage) -> bool {
        self.usd_at_most.is_none_or(|most| used.usd <= most)
            && self.orders_under.is_none_or(|max| used.orders < i64::from(max))
    }
}

/// A counter's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub usd: Decimal,
    pub orders: i64,
}

pub fn global_day_key(day: &str) -> String {
    format!("day#{day}")
}
pub fn symbol_day_key(day: &str, symbol: &Symbol) -> String {
    format!("day#{day}#{symbol}")
}
pub fn exposure_key(symbol: &Symbol) -> String {
    format!("exposure#{symbol}")
}

/// Why an order may not even be tried, before any counter: the halt, or an order larger than a size limit.
pub fn refusal(control: &Control, symbol_limits: &RiskLimits, amount_usd: Decimal) -> Option<(ReasonCode, String)> {
    if let Some(h) = &control.halt {
        return Some((
            ReasonCode::TradingHalted,
            format!(
                "trading is halted since {} by {}: {}",
                crate::time::rfc3339(h.at),
                h.by,
                h.reason
            ),
        ));
    }
    for (whose, limits) in [("global", &control.limits), ("symbol", symbol_limits)] {
        if let Some(max) = limits.max_order_usd.filter(|max| amount_usd > *max) {
            return Some((
                ReasonCode::RiskLimitExceeded,
                format!("{whose} maximum order size {max} USD: this order needs {amount_usd} USD"),
            ));
        }
    }
    None
}

/// The counters a claim adds to: the day's global and per-symbol counters (always, so the day's usage is known),
/// and for a BUY the symbol's exposure. Err: a limit is smaller than this one order (no room at all).
pub fn reservations(
    control: &Control,
    symbol_limits: &RiskLimits,
    symbol: &Symbol,
    side: Side,
    amount_usd: Decimal,
    now: DateTime<Utc>,
) -> Result<Vec<Reservation>, (ReasonCode, String)> {
    let day = crate::time::day_of(now);
    let counter = |key: String, orders: i64| CounterDelta {
        key,
        usd: amount_usd,
        orders,
    };
    let mut out = vec![
        Reservation {
            delta: counter(global_day_key(&day), 1),
            scope: LimitScope::GlobalDay,
            usd_at_most: None,
            orders_under: control.limits.max_orders_per_day,
            max_usd: control.limits.max_notional_usd_per_day,
        },
        Reservation {
            delta: counter(symbol_day_key(&day, symbol), 1),
            scope: LimitScope::SymbolDay,
            usd_at_most: None,
            orders_under: symbol_limits.max_orders_per_day,
            max_usd: symbol_limits.max_notional_usd_per_day,
        },
    ];
    if side == Side::Buy {
        out.push(Reservation {
            delta: counter(exposure_key(symbol), 0),
            scope: LimitScope::Exposure,
            usd_at_most: None,
            orders_under: None,
            max_usd: symbol_limits.max_exposure_usd,
        });
    }
    for r in &mut out {
        let Some(max) = r.max_usd else { continue };
        match max.checked_sub(amount_usd).filter(|room| *room >= Decimal::ZERO) {
            Some(room) => r.usd_at_most = Some(room),
            None => {
                return Err((
                    ReasonCode::RiskLimitExceeded,
                    format!(
                        "{} {max} USD is smaller than this order's {amount_usd} USD",
                        r.limit_words(symbol)
                    ),
                ))
            }
        }
    }
    Ok(out)
}

impl Reservation {
    /// "global daily notional limit", "BTC_USDT daily notional limit", "BTC_USDT open exposure limit".
    fn limit_words(&self, symbol: &Symbol) -> String {
        match self.scope {
            LimitScope::GlobalDay => "global daily notional limit".to_string(),
            LimitScope::SymbolDay => format!("{symbol} daily notional limit"),
            LimitScope::Exposure => format!("{symbol} open exposure limit"),
        }
    }

    fn order_words(&self, symbol: &Symbol) -> String {
        match self.scope {
            LimitScope::GlobalDay => "global daily order limit".to_string(),
            _ => format!("{symbol} daily order limit"),
        }
    }
}

/// The words for a reservation the counter refused, given what the counter held.
pub fn exceeded(r: &Reservation, used: Usage, symbol: &Symbol) -> String {
    if let Some(max) = r.orders_under.filter(|max| used.orders >= i64::from(*max)) {
        return format!(
            "{} {max} reached: {} orders placed today, none left",
            r.order_words(symbol),
            used.orders
        );
    }
    let max = r.max_usd.unwrap_or_default();
    let left = max.checked_sub(used.usd).unwrap_or_default().max(Decimal::ZERO);
    format!(
        "{} {} USD: {} USD used, {left} USD left, this order needs {} USD",
        r.limit_words(symbol),
        max.normalize(),
        used.usd.normalize(),
        r.delta.usd.normalize()
    )
}

/// True for exchange failures that say the account cannot trade (every next order would fail the same way): these
/// count towards the circuit breaker. INSUFFICIENT_FUNDS counts for a BUY only: a SELL refused for want of coins
/// says the coins are not there — the system's own doing (a SELL that raced another SELL of the symbol, a
/// `sell_held_elsewhere` amount) or a withdrawal — not that the account cannot trade; it is still ORDER FAILED.
pub fn is_account_failure(code: ReasonCode, side: Side) -> bool {
    match code {
        ReasonCode::AuthenticationError | ReasonCode::SignatureError => true,
        ReasonCode::InsufficientFunds => side == Side::Buy,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_symbol_limits_are_bounded_whatever_the_queue_names() {
        let cache = ControlCache::default();
        let sym = |i: usize| Symbol::parse(&format!("S{i}_USDT")).unwrap();
        let capped = RiskLimits {
            max_order_usd: Some(Decimal::from(5)),
            ..RiskLimits::default()
        };
        cache.set_symbol_limits(&sym(0), capped.clone());
        assert_eq!(cache.symbol_limits(&sym(0)), Some(capped));
        for i in 1..MAX_CACHED_SYMBOLS {
            cache.set_symbol_limits(&sym(i), RiskLimits::default());
        }
        assert!(cache.symbol_limits(&sym(0)).is_some(), "kept up to the bound");
        cache.set_symbol_limits(&sym(MAX_CACHED_SYMBOLS), RiskLimits::default());
        assert_eq!(
            cache.symbol_limits(&sym(0)),
            None,
            "past it, the cache starts again (read again, never wrong)"
        );
        assert_eq!(
            cache.symbol_limits(&sym(MAX_CACHED_SYMBOLS)),
            Some(RiskLimits::default())
        );
    }

    fn t() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_sell_without_coins_never_counts_towards_the_circuit_breaker() {
        assert!(is_account_failure(ReasonCode::InsufficientFunds, Side::Buy));
        assert!(!is_account_failure(ReasonCode::InsufficientFunds, Side::Sell));
        for side in [Side::Buy, Side::Sell] {
            assert!(is_account_failure(ReasonCode::AuthenticationError, side));
            assert!(is_account_failure(ReasonCode::SignatureError, side));
            assert!(!is_account_failure(ReasonCode::SellRequiresPosition, side));
        }
    }

    #[tokio::test]
    async fn a_sell_refused_for_want_of_coins_leaves_the_breakers_run_alone() {
        let store = crate::fakes::MemoryStore::default();
        let control = Control {
            breaker_failures: Some(1),
            ..Control::default()
        };
        let refused = crate::fakes::decision(ReasonCode::InsufficientFunds, t());
        let sell = crate::flow::trading::record_outcome(&store, &control, &refused, Side::Sell, t()).await;
        assert_eq!(sell.unwrap(), None);
        assert!(crate::ports::ControlStore::control(&store)
            .await
            .unwrap()
            .halt
            .is_none());
        let buy = crate::flow::trading::record_outcome(&store, &control, &refused, Side::Buy, t()).await;
        assert!(buy.unwrap().is_some(), "a BUY without funds is an account failure");
    }

    #[test]
    fn the_default_control_caps_the_day_and_arms_the_breaker() {
        let c = Control::default();
        assert_eq!(c.limits.max_notional_usd_per_day, Some(Decimal::from(1000)));
        assert_eq!(c.breaker_failures, Some(3));
        assert!(c.halt.is_none());
    }

    #[test]
    fn a_halt_or_an_oversized_order_is_refused_before_any_counter() {
        let mut c = Control::default();
        let sym = RiskLimits {
            max_order_usd: Some(Decimal::from(50)),
            ..Default::default()
        };
        let (code, why) = refusal(&c, &sym, Decimal::from(100)).unwrap();
        assert_eq!(code, ReasonCode::RiskLimitExceeded);
        assert!(why.contains("symbol maximum order size 50 USD"), "{why}");
        assert!(refusal(&c, &sym, Decimal::from(50)).is_none());
        c.halt = Some(Halt {
            announced: false,
            reason: "maintenance".into(),
            by: "ops".into(),
            at: t(),
        });
        assert_eq!(refusal(&c, &sym, Decimal::ONE).unwrap().0, ReasonCode::TradingHalted);
    }

    #[test]
    fn reservations_carry_room_left_and_buys_count_exposure() {
        let sym = Symbol::parse("BTC_USDT").unwrap();
        let limits = RiskLimits {
            max_orders_per_day: Some(2),
            max_exposure_usd: Some(Decimal::from(300)),
            ..Default::default()
        };
        let r = reservations(&Control::default(), &limits, &sym, Side::Buy, Decimal::from(100), t()).unwrap();
        let keys: Vec<&str> = r.iter().map(|r| r.delta.key.as_str()).collect();
        assert_eq!(keys, ["day#2026-12-02", "day#2026-12-02#BTC_USDT", "exposure#BTC_USDT"]);
        assert_eq!(r[0].usd_at_most, Some(Decimal::from(900)));
        assert_eq!(r[1].orders_under, Some(2));
        assert_eq!(r[2].usd_at_most, Some(Decimal::from(200)));
        assert_eq!(r[2].delta.orders, 0);
        let sells = reservations(&Control::default(), &limits, &sym, Side::Sell, Decimal::from(100), t()).unwrap();
        assert_eq!(sells.len(), 2);
        let (code, why) =
            reservations(&Control::default(), &limits, &sym, Side::Buy, Decimal::from(2000), t()).unwrap_err();
        assert_eq!(code, ReasonCode::RiskLimitExceeded);
        assert!(why.contains("global daily notional limit 1000 USD"), "{why}");
    }

    #[test]
    fn exceeded_says_which_limit_and_what_is_left() {
        let sym = Symbol::parse("BTC_USDT").unwrap();
        let r = reservations(
            &Control::default(),
            &RiskLimits::default(),
            &sym,
            Side::Sell,
            Decimal::from(100),
            t(),
        )
        .unwrap();
        let used = Usage {
            usd: Decimal::from(950),
            orders: 9,
        };
        assert_eq!(
            exceeded(&r[0], used, &sym),
            "global daily notional limit 1000 USD: 950 USD used, 50 USD left, this order needs 100 USD"
        );
        let mut capped = r[1].clone();
        capped.orders_under = Some(9);
        assert_eq!(
            exceeded(&capped, used, &sym),
            "BTC_USDT daily order limit 9 reached: 9 orders placed today, none left"
        );
    }

    #[test]
    fn limits_must_be_positive() {
        let bad = RiskLimits {
            max_order_usd: Some(Decimal::ZERO),
            max_orders_per_day: Some(0),
            ..Default::default()
        };
        assert_eq!(bad.problems("global").len(), 2);
        assert!(Control::default().limits.problems("global").is_empty());
    }
}
