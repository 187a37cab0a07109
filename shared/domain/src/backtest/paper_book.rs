//! The hypothetical result of a replay's paper orders, for the backtest report, kept by the same positions ledger
//! as the live system's fills (`order::ledger`): every sent BUY buys `amount_usd` worth of the base asset at its
//! candle's close; every sent SELL sells the same USD amount's quantity, at most what the book holds, and with
//! nothing held it is skipped (SELL_REQUIRES_POSITION, as the orchestrator does); whatever is still held at the end is
//! marked at the last close. Amounts are USD at a recorded quote→USD rate (1 for a USD-pegged quote, a rate the user
//! gives, or the closes of the quote's USD pair from the replay's folder); the fee is a rate on each order's quote
//! value, charged in the quote currency, as the paper exchange charges it. Decimal arithmetic, every operation
//! checked.

#![deny(clippy::arithmetic_side_effects)]

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use crate::backtest::Backtest;
use crate::ids::{Side, Symbol};
use crate::money::{quote_currency, UsdPrice};
use crate::order::{Fill, Ledger, OrderStatus};

/// Decimal places a SELL's quantity is rounded down to (the orchestrator's default `QUANTITY_DECIMALS`).
pub const QUANTITY_DECIMALS: u32 = 8;

/// Where the USD price of the pair's quote currency comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum QuoteUsd {
    /// A USD-pegged quote (USD, USDT, USDC): 1 USD.
    Pegged,
    /// One rate for the whole replay, given by the user (USD per unit of the quote).
    Fixed(Decimal),
    /// The closes of the quote's USD pair (`source`, a candle file): the rate at a time is the close of the last
    /// candle opened at or before it.
    Closes {
        source: String,
        closes: Vec<(i64, Decimal)>,
    },
}

impl QuoteUsd {
    /// The rate at `t_ms`; None before the first candle of a USD pair.
    pub fn at(&self, t_ms: i64) -> Option<Decimal> {
        match self {
            QuoteUsd::Pegged => Some(Decimal::ONE),
            QuoteUsd::Fixed(rate) => Some(*rate),
            QuoteUsd::Closes { closes, .. } => {
                let after = closes.partition_point(|(t, _)| *t <= t_ms);
                after.checked_sub(1).and_then(|i| closes.get(i)).map(|(_, c)| *c)
            }
        }
    }

    /// How the report names the rate.
    pub fn describe(&self, currency: &str) -> String {
        match self {
            QuoteUsd::Pegged => format!("{currency} at 1 USD (pegged)"),
            QuoteUsd::Fixed(rate) => format!("{currency} at {} USD (given)", rate.normalize()),
            QuoteUsd::Closes { source, .. } => format!("{currency} in USD at the closes of {source}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BookSettings {
    /// USD amount of each order (the watchlist's `trade_amount_usd`).
    pub amount_usd: Decimal,
    /// Fee per order as a fraction of its quote value (0.00075 for 0.075 %).
    pub fee_rate: Decimal,
    pub quote_usd: QuoteUsd,
    /// A stop-loss and a take-profit after each BUY, as the paper exchange triggers them (docs/DESIGN.md §14); None:
    /// positions are closed by SELL signals alone.
    pub protection: Option<crate::order::protection::ProtectionSettings>,
}

/// Signals and paper orders of one replay, and what the orders would have earned, in USD.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PaperBook {
    /// The pair's quote currency, and how it was turned into USD.
    pub currency: String,
    pub usd_rate: String,
    pub buy_signals: usize,
    pub sell_signals: usize,
    /// Held back by the throttle: never enqueued, no order.
    pub throttled: usize,
    /// Sent signals that traded (a SELL with nothing held does not).
    pub paper_orders: usize,
    /// Sent SELLs skipped with nothing held (SELL_REQUIRES_POSITION).
    pub sells_without_position: usize,
    /// SELL fills that closed held quantity, and those of them with a realized gain.
    pub closed_trades: usize,
    pub winning_trades: usize,
    /// Base quantity still held at the end.
    pub held: Decimal,
    /// Sum of the BUYs' USD amounts.
    pub invested_usd: Decimal,
    pub fees_usd: Decimal,
    /// Closed quantity: proceeds minus cost, fees included.
    pub realized_usd: Decimal,
    /// What is held, at the last close, minus its cost (the BUY fees included; no sale fee).
    pub unrealized_usd: Decimal,
    /// realized + unrealized.
    pub net_usd: Decimal,
    /// net / invested, in percent; None when nothing was bought.
    pub return_pct: Option<f64>,
    /// BUYs given a stop-loss and a take-profit; of them, closed by the take-profit, by the stop, cancelled by a
    /// SELL signal, and still open at the end.
    pub protected: usize,
    pub take_profits: usize,
    pub stop_losses: usize,
    pub protections_cancelled: usize,
    pub protections_open: usize,
}

/// A BUY's protection while the book steps through the replay.
struct OpenProtection {
    oco: crate::order::Oco,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BookError {
    #[error("price {0} at {1} is not a positive decimal")]
    BadPrice(String, i64),
    #[error("amount out of range: {0}")]
    Overflow(&'static str),
    #[error("the replay has no closed candle to mark what is held at")]
    NoClose,
    #[error("no USD rate for the quote currency at {0} (the USD pair's candles start later)")]
    NoRate(i64),
}

fn checked(v: Option<Decimal>, what: &'static str) -> Result<Decimal, BookError> {
    v.ok_or(BookError::Overflow(what))
}

/// What a sent signal trades: a BUY the USD amount's quantity, a SELL the same at most what is held (all that is held
/// when it cancelled protections: `all_held`), rounded down to
/// [`QUANTITY_DECIMALS`] as the paper exchange fills (None: nothing to trade — a SELL with nothing held is skipped).
fn traded_quantity(
    ledger: &Ledger,
    symbol: &Symbol,
    (side, all_held): (Side, bool),
    price: Decimal,
    rate: Decimal,
    s: &BookSettings,
) -> Result<Option<Decimal>, BookError> {
    let notional = checked(s.amount_usd.checked_div(rate), "amount_usd / rate")?;
    let wanted = checked(notional.checked_div(price), "notional / price")?;
    let traded = match side {
        Side::Buy => wanted,
        Side::Sell if all_held => ledger.held(symbol),
        Side::Sell => wanted.min(ledger.held(symbol)),
    };
    let traded = traded.round_dp_with_strategy(QUANTITY_DECIMALS, RoundingStrategy::ToZero);
    Ok((traded > Decimal::ZERO).then_some(traded))
}

/// A paper fill: `quantity` at `price`, the fee a rate of its value in the quote currency, at market time `t_ms`.
fn paper_fill(
    quantity: Decimal,
    price: Decimal,
    fee_rate: Decimal,
    currency: &str,
    t_ms: i64,
) -> Result<Fill, BookError> {
    let value = checked(quantity.checked_mul(price), "quantity × price")?;
    Ok(Fill {
        status: OrderStatus::Filled,
        filled_quantity: quantity,
        average_price: price,
        fee: checked(value.checked_mul(fee_rate), "order value × fee rate")?.round_dp(QUANTITY_DECIMALS),
        fee_currency: currency.to_string(),
        updated_at: chrono::DateTime::from_timestamp_millis(t_ms).unwrap_or_default(),
        version: 1,
        increments: 1,
    })
}

/// The OCO the paper exchange places after a BUY's fill: the plan's prices, rounded as a paper OCO is.
fn protect(
    fill: &Fill,
    symbol: &Symbol,
    p: &crate::order::protection::ProtectionSettings,
    key: &crate::ids::IdempotencyKey,
    market_ms: i64,
) -> Option<crate::order::Oco> {
    use crate::order::protection::{paper_ack, Plan};
    use crate::order::Leg;
    let plan = Plan::for_fill(fill, symbol, p, QUANTITY_DECIMALS).filter(|pl| pl.quantity > Decimal::ZERO)?;
    let raw = crate::order::Oco {
        symbol: symbol.clone(),
        quantity: plan.quantity,
        stop_price: plan.stop_price,
        take_profit_price: plan.take_profit_price,
        take_profit_oid: Leg::TakeProfit.client_oid(key),
        stop_loss_oid: Leg::StopLoss.client_oid(key),
        market_ms,
        cancel_ms: None,
    };
    let sent = paper_ack(&raw);
    Some(crate::order::Oco {
        quantity: sent.quantity,
        stop_price: sent.stop_price,
        take_profit_price: sent.take_profit_price,
        ..raw
    })
}

impl PaperBook {
    /// The book of `bt`'s signals (in their order), what is held marked at the replay's last close. `candles`: the
    /// replay's candles at its timeframe, on which protective legs trigger (unused without protection).
    pub fn of(bt: &Backtest, candles: &[crate::market::candles::Candle], s: &BookSettings) -> Result<Self, BookError> {
        let symbol = Symbol::parse(&bt.symbol).map_err(|_| BookError::BadPrice(bt.symbol.clone(), 0))?;
        let currency = quote_currency(&symbol).to_string();
        let last = bt.indicators.last().ok_or(BookError::NoClose)?;
        let mark = crate::market::strategy::price_decimal(last.close)
            .filter(|p| *p > Decimal::ZERO)
            .ok_or_else(|| BookError::BadPrice(last.close.to_string(), last.t))?;
        let dust = Decimal::new(1, QUANTITY_DECIMALS);
        let mut ledger = Ledger::new(dust);
        let mut book = Self {
            usd_rate: s.quote_usd.describe(&currency),
            currency,
            ..Self::default()
        };
        let step =
            crate::market::candles::Timeframe::parse(bt.timeframe).map_or(0, crate::market::candles::Timeframe::millis);
        let mut open: Vec<OpenProtection> = Vec::new();
        for signal in &bt.signals {
            // The legs the candles closed by this signal's close triggered come first.
            let closes_at = signal.t.checked_add(step).ok_or(BookError::Overflow("signal time"))?;
            book.settle(&mut open, &mut ledger, &symbol, candles, (step, closes_at), s)?;
            if !book.count(signal) {
                continue;
            }
            let price: Decimal = signal
                .price
                .parse()
                .ok()
                .filter(|p| *p > Decimal::ZERO)
                .ok_or_else(|| BookError::BadPrice(signal.price.clone(), signal.t))?;
            let rate = s.quote_usd.at(signal.t).ok_or(BookError::NoRate(signal.t))?;
            // A SELL signal cancels the protections first (docs/DESIGN.md §14); having cancelled any, it sells all
            // that is held.
            let released = if signal.side == Side::Sell {
                std::mem::take(&mut open).len()
            } else {
                0
            };
            book.protections_cancelled = book.protections_cancelled.saturating_add(released);
            let Some(quantity) = traded_quantity(&ledger, &symbol, (signal.side, released > 0), price, rate, s)? else {
                book.sells_without_position = book.sells_without_position.saturating_add(1);
                continue;
            };
            if signal.side == Side::Buy {
                book.invested_usd = checked(book.invested_usd.checked_add(s.amount_usd), "invested")?;
            }
            book.paper_orders = book.paper_orders.saturating_add(1);
            let fill = paper_fill(quantity, price, s.fee_rate, &book.currency, signal.t)?;
            ledger.record(&symbol, signal.side, &fill, rate);
            if let (Side::Buy, Some(p)) = (signal.side, &s.protection) {
                let key =
                    crate::ids::IdempotencyKey::for_signal(&crate::ids::SignalId::new(&symbol, Side::Buy, signal.t));
                if let Some(oco) = protect(&fill, &symbol, p, &key, closes_at) {
                    book.protected = book.protected.saturating_add(1);
                    open.push(OpenProtection { oco });
                }
            }
        }
        let end = last.t.checked_add(step).ok_or(BookError::Overflow("last close"))?;
        book.settle(&mut open, &mut ledger, &symbol, candles, (step, end), s)?;
        book.protections_open = open.len();
        book.close(&ledger, mark, s.quote_usd.at(last.t).ok_or(BookError::NoRate(last.t))?)?;
        Ok(book)
    }

    /// Counts a signal by side, and a throttled one; false when it was throttled (it trades nothing).
    fn count(&mut self, signal: &crate::backtest::SignalRow) -> bool {
        match signal.side {
            Side::Buy => self.buy_signals = self.buy_signals.saturating_add(1),
            Side::Sell => self.sell_signals = self.sell_signals.saturating_add(1),
        }
        if signal.throttled {
            self.throttled = self.throttled.saturating_add(1);
        }
        !signal.throttled
    }

    /// Records the legs the candles closed by `until` trigger (each protection's first trigger, in time order), as
    /// the paper exchange fills them: the whole protected quantity at the leg's price, the fee in the quote currency.
    fn settle(
        &mut self,
        open: &mut Vec<OpenProtection>,
        ledger: &mut Ledger,
        symbol: &Symbol,
        candles: &[crate::market::candles::Candle],
        (step, until): (i64, i64),
        s: &BookSettings,
    ) -> Result<(), BookError> {
        if open.is_empty() {
            return Ok(());
        }
        let closed = &candles[..candles.partition_point(|c| c.open_ms.saturating_add(step) <= until)];
        let mut hits: Vec<(i64, usize, crate::order::Leg, Decimal)> = open
            .iter()
            .enumerate()
            .filter_map(|(n, p)| {
                crate::order::protection::first_trigger(closed, &p.oco).map(|(l, px, t)| (t, n, l, px))
            })
            .collect();
        hits.sort_by_key(|h| (h.0, h.1));
        for (t, n, leg, price) in &hits {
            let fill = paper_fill(open[*n].oco.quantity, *price, s.fee_rate, &self.currency, *t)?;
            let rate = s.quote_usd.at(*t).ok_or(BookError::NoRate(*t))?;
            ledger.record(symbol, Side::Sell, &fill, rate);
            match leg {
                crate::order::Leg::TakeProfit => self.take_profits = self.take_profits.saturating_add(1),
                _ => self.stop_losses = self.stop_losses.saturating_add(1),
            }
        }
        let mut n = 0;
        open.retain(|_| {
            let keep = !hits.iter().any(|h| h.1 == n);
            n = n.saturating_add(1);
            keep
        });
        Ok(())
    }

    /// The totals from the ledger, and what is held marked at `mark` (quote) at `rate` (USD per quote unit).
    fn close(&mut self, ledger: &Ledger, mark: Decimal, rate: Decimal) -> Result<(), BookError> {
        let closes = ledger.realized_series();
        self.closed_trades = closes.len();
        self.winning_trades = closes.iter().filter(|c| c.realized_usd > Decimal::ZERO).count();
        if let Some(p) = ledger.positions().first() {
            self.held = p.quantity;
            self.fees_usd = p.fees_usd;
            self.realized_usd = p.realized_pnl_usd;
            let usd = UsdPrice {
                currency: self.currency.clone(),
                usd_per_unit: rate,
                source: self.usd_rate.clone(),
            };
            self.unrealized_usd = match p.unrealized(mark, Some(&usd)) {
                Some(u) => u.pnl_usd.map(|(v, _)| v).ok_or(BookError::Overflow("unrealized"))?,
                None if p.quantity.is_zero() => Decimal::ZERO,
                None => return Err(BookError::Overflow("unrealized")),
            };
        }
        self.net_usd = checked(self.realized_usd.checked_add(self.unrealized_usd), "net")?;
        self.return_pct = self
            .net_usd
            .checked_div(self.invested_usd)
            .and_then(|r| r.checked_mul(Decimal::ONE_HUNDRED))
            .and_then(|r| r.to_f64());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::{IndicatorRow, SignalRow};

    fn signal(t: i64, side: Side, price: &str, throttled: bool) -> SignalRow {
        SignalRow {
            t,
            side,
            price: price.into(),
            throttled,
            reason: String::new(),
        }
    }

    fn replay(symbol: &str, signals: Vec<SignalRow>, last_close: f64) -> Backtest {
        Backtest {
            symbol: symbol.into(),
            preset: "swing-aggressive",
            timeframe: "1h",
            indicators: vec![IndicatorRow {
                t: 9,
                close: last_close,
                rsi: 50.0,
                ma50: 1.0,
                ma200: 1.0,
                ema10: 1.0,
                atr: None,
                volume_ratio: None,
                decision: "WAIT",
            }],
            signals,
        }
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn usdt(fee_rate: &str) -> BookSettings {
        BookSettings {
            amount_usd: dec("100"),
            fee_rate: dec(fee_rate),
            quote_usd: QuoteUsd::Pegged,
            protection: None,
        }
    }

    #[test]
    fn usd_amounts_fifo_closes_sells_against_the_position_and_the_rest_is_marked_at_the_last_close() {
        let bt = replay(
            "ETH_USDT",
            vec![
                signal(1, Side::Buy, "100", false),  // 1 ETH, fee 0.1: a lot of 1 at 100.1
                signal(2, Side::Buy, "99", true),    // throttled: no order
                signal(3, Side::Buy, "50", false),   // 2 ETH, fee 0.1: a lot of 2 at 100.1
                signal(4, Side::Sell, "125", false), // 0.8 ETH: 100 − 0.1 − 80.08 = +19.82
                signal(5, Side::Sell, "120", true),
                signal(6, Side::Sell, "40", false), // 2.5 wanted, 2.2 held: 88 − 0.088 − (20.02 + 100.1) = −32.208
                signal(7, Side::Sell, "75", false), // nothing held: SELL_REQUIRES_POSITION
                signal(8, Side::Buy, "50", false),  // held at the end: 2 × (60 − 50.05) = +19.9
            ],
            60.0,
        );
        let b = PaperBook::of(&bt, &[], &usdt("0.001")).unwrap();
        assert_eq!(
            (b.buy_signals, b.sell_signals, b.throttled, b.paper_orders),
            (4, 4, 2, 5)
        );
        assert_eq!(
            (b.closed_trades, b.winning_trades, b.sells_without_position, b.held),
            (2, 1, 1, dec("2"))
        );
        assert_eq!(
            (b.invested_usd, b.realized_usd, b.unrealized_usd),
            (dec("300"), dec("-12.388"), dec("19.9"))
        );
        assert_eq!(b.fees_usd, dec("0.488"));
        assert_eq!(b.net_usd, dec("7.512"));
        assert!((b.return_pct.unwrap() - 2.504).abs() < 1e-9);
        assert_eq!(b.usd_rate, "USDT at 1 USD (pegged)");
    }

    /// Each BUY protected 2 % either side: a take-profit reached, a candle reaching both legs (the stop, as the paper
    /// exchange decides), and a SELL signal that cancels the protection and sells what is held.
    #[test]
    fn protected_buys_close_on_their_legs_as_the_paper_exchange_triggers_them() {
        const H: i64 = 3_600_000;
        let candle = |i: i64, high: f64, low: f64| crate::market::candles::Candle {
            open_ms: i * H,
            open: 100.0,
            high,
            low,
            close: 100.0,
            volume: 1.0,
        };
        let candles = [
            candle(0, 100.0, 100.0),
            candle(1, 101.0, 99.0),
            candle(2, 103.0, 99.5), // the take-profit at 102
            candle(3, 100.0, 100.0),
            candle(4, 100.0, 100.0),
            candle(5, 103.0, 97.0),  // both legs: the stop at 98
            candle(6, 100.0, 100.0), // the BUY's own candle: before its protection
            candle(7, 100.5, 99.5),
            candle(8, 100.0, 100.0),
        ];
        let bt = Backtest {
            timeframe: "1h",
            ..replay(
                "ETH_USDT",
                vec![
                    signal(0, Side::Buy, "100", false),
                    signal(3 * H, Side::Sell, "100", false), // nothing held: the take-profit sold it
                    signal(4 * H, Side::Buy, "100", false),
                    signal(6 * H, Side::Buy, "100", false),
                    signal(7 * H, Side::Sell, "99", false), // cancels the third protection, sells the 1 held
                ],
                100.0,
            )
        };
        let p = crate::order::protection::ProtectionSettings {
            enabled: true,
            sl_pct: dec("2"),
            tp_pct: dec("2"),
            on_failure: crate::order::protection::OnFailure::Flatten,
        };
        let s = BookSettings {
            protection: Some(p),
            ..usdt("0")
        };
        let b = PaperBook::of(&bt, &candles, &s).unwrap();
        assert_eq!(
            (
                b.protected,
                b.take_profits,
                b.stop_losses,
                b.protections_cancelled,
                b.protections_open
            ),
            (3, 1, 1, 1, 0)
        );
        assert_eq!((b.sells_without_position, b.held), (1, Decimal::ZERO));
        // +2 at the take-profit, −2 at the stop, −1 by the SELL signal.
        assert_eq!((b.closed_trades, b.realized_usd), (3, dec("-1")));
        let unprotected = PaperBook::of(&bt, &candles, &usdt("0")).unwrap();
        assert_eq!((unprotected.protected, unprotected.held), (0, dec("0.98989899")));
    }

    #[test]
    fn a_quote_that_is_not_usd_is_valued_at_its_usd_pairs_closes() {
        // ETH_BTC with BTC at 40,000 USD, then 50,000 USD from t = 5: "100" is 100 USD, not 100 BTC.
        let s = BookSettings {
            amount_usd: dec("100"),
            fee_rate: Decimal::ZERO,
            quote_usd: QuoteUsd::Closes {
                source: "BTC_USD-1h.json".into(),
                closes: vec![(0, dec("40000")), (5, dec("50000"))],
            },
            protection: None,
        };
        let bt = replay(
            "ETH_BTC",
            vec![
                signal(1, Side::Buy, "0.05", false),  // 0.0025 BTC = 100 USD: 0.05 ETH
                signal(6, Side::Sell, "0.05", false), // 100 USD is 0.002 BTC: 0.04 ETH, cost 80 USD
            ],
            0.05,
        );
        let b = PaperBook::of(&bt, &[], &s).unwrap();
        assert_eq!((b.invested_usd, b.realized_usd), (dec("100"), dec("20")));
        assert_eq!((b.held, b.unrealized_usd), (dec("0.01"), Decimal::ZERO));
        assert_eq!(b.usd_rate, "BTC in USD at the closes of BTC_USD-1h.json");
        let early = replay("ETH_BTC", vec![signal(-1, Side::Buy, "0.05", false)], 0.05);
        assert_eq!(PaperBook::of(&early, &[], &s), Err(BookError::NoRate(-1)));
    }

    #[test]
    fn nothing_bought_is_no_return_and_a_bad_price_is_an_error() {
        let s = usdt("0");
        let b = PaperBook::of(
            &replay("ETH_USDT", vec![signal(1, Side::Sell, "2", false)], 1.0),
            &[],
            &s,
        )
        .unwrap();
        assert_eq!((b.paper_orders, b.sells_without_position, b.return_pct), (0, 1, None));
        let bad = replay("ETH_USDT", vec![signal(1, Side::Buy, "0", false)], 1.0);
        assert_eq!(PaperBook::of(&bad, &[], &s), Err(BookError::BadPrice("0".into(), 1)));
        let empty = Backtest {
            indicators: Vec::new(),
            ..replay("ETH_USDT", Vec::new(), 1.0)
        };
        assert_eq!(PaperBook::of(&empty, &[], &s), Err(BookError::NoClose));
    }
}
