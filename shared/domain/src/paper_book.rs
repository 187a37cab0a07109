//! The hypothetical result of a replay's paper orders, for the backtest report: every sent BUY buys `notional` (in
//! the pair's quote currency) of the base asset at its candle's close; every sent SELL sells the oldest open lot at
//! its close (a SELL with no open lot is counted, not traded: the live system would sell from a holding this book
//! does not know); whatever is still open at the end is marked at the last close. The fee is a rate on each traded
//! order's quote value. Amounts stay in the quote currency — turning them into USD would need a recorded rate the
//! replay does not have. Decimal arithmetic, every operation checked.

#![deny(clippy::arithmetic_side_effects)]

use std::collections::VecDeque;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::backtest::Backtest;
use crate::ids::Side;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BookSettings {
    /// Quote-currency amount of each BUY.
    pub notional: Decimal,
    /// Fee per order as a fraction of its quote value (0.00075 for 0.075 %).
    pub fee_rate: Decimal,
}

/// Signals and paper orders of one replay, and what the orders would have earned.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PaperBook {
    pub currency: String,
    pub buy_signals: usize,
    pub sell_signals: usize,
    /// Held back by the throttle: never enqueued, no order.
    pub throttled: usize,
    /// One per sent signal, as the orchestrator places them in paper mode.
    pub paper_orders: usize,
    pub sells_without_lot: usize,
    pub closed_trades: usize,
    pub winning_trades: usize,
    pub open_lots: usize,
    /// Sum of the BUYs' notionals.
    pub invested: Decimal,
    pub fees: Decimal,
    /// Closed lots: proceeds minus cost, before fees.
    pub realized: Decimal,
    /// Open lots at the last close, minus their cost.
    pub unrealized: Decimal,
    /// realized + unrealized − fees.
    pub net: Decimal,
    /// net / invested, in percent; None when nothing was bought.
    pub return_pct: Option<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BookError {
    #[error("price {0} at {1} is not a positive decimal")]
    BadPrice(String, i64),
    #[error("amount out of range: {0}")]
    Overflow(&'static str),
    #[error("the replay has no closed candle to mark open lots at")]
    NoClose,
}

struct Lot {
    quantity: Decimal,
    cost: Decimal,
}

fn checked(v: Option<Decimal>, what: &'static str) -> Result<Decimal, BookError> {
    v.ok_or(BookError::Overflow(what))
}

impl PaperBook {
    /// The book of `bt`'s signals (in their order), marked at the replay's last close.
    pub fn of(bt: &Backtest, currency: &str, s: &BookSettings) -> Result<Self, BookError> {
        let last = bt.indicators.last().ok_or(BookError::NoClose)?;
        let mark = crate::strategy::price_decimal(last.close)
            .filter(|p| *p > Decimal::ZERO)
            .ok_or_else(|| BookError::BadPrice(last.close.to_string(), last.t))?;
        let mut book = Self {
            currency: currency.to_string(),
            ..Self::default()
        };
        let mut lots: VecDeque<Lot> = VecDeque::new();
        for signal in &bt.signals {
            match signal.side {
                Side::Buy => book.buy_signals = book.buy_signals.saturating_add(1),
                Side::Sell => book.sell_signals = book.sell_signals.saturating_add(1),
            }
            if signal.throttled {
                book.throttled = book.throttled.saturating_add(1);
                continue;
            }
            book.paper_orders = book.paper_orders.saturating_add(1);
            let price: Decimal = signal
                .price
                .parse()
                .ok()
                .filter(|p| *p > Decimal::ZERO)
                .ok_or_else(|| BookError::BadPrice(signal.price.clone(), signal.t))?;
            match signal.side {
                Side::Buy => lots.push_back(book.buy(price, s)?),
                Side::Sell => match lots.pop_front() {
                    Some(lot) => book.sell(lot, price, s)?,
                    None => book.sells_without_lot = book.sells_without_lot.saturating_add(1),
                },
            }
        }
        book.open_lots = lots.len();
        for lot in &lots {
            let value = checked(lot.quantity.checked_mul(mark), "open lot × last close")?;
            let gain = checked(value.checked_sub(lot.cost), "open lot value − cost")?;
            book.unrealized = checked(book.unrealized.checked_add(gain), "unrealized")?;
        }
        let gross = checked(book.realized.checked_add(book.unrealized), "realized + unrealized")?;
        book.net = checked(gross.checked_sub(book.fees), "net")?;
        book.return_pct = book
            .net
            .checked_div(book.invested)
            .and_then(|r| r.checked_mul(Decimal::ONE_HUNDRED))
            .and_then(|r| r.to_f64());
        Ok(book)
    }

    fn buy(&mut self, price: Decimal, s: &BookSettings) -> Result<Lot, BookError> {
        let quantity = checked(s.notional.checked_div(price), "notional / price")?;
        self.invested = checked(self.invested.checked_add(s.notional), "invested")?;
        self.charge(s.notional, s)?;
        Ok(Lot {
            quantity,
            cost: s.notional,
        })
    }

    fn sell(&mut self, lot: Lot, price: Decimal, s: &BookSettings) -> Result<(), BookError> {
        let proceeds = checked(lot.quantity.checked_mul(price), "quantity × price")?;
        let gain = checked(proceeds.checked_sub(lot.cost), "proceeds − cost")?;
        self.realized = checked(self.realized.checked_add(gain), "realized")?;
        self.charge(proceeds, s)?;
        self.closed_trades = self.closed_trades.saturating_add(1);
        if gain > Decimal::ZERO {
            self.winning_trades = self.winning_trades.saturating_add(1);
        }
        Ok(())
    }

    fn charge(&mut self, value: Decimal, s: &BookSettings) -> Result<(), BookError> {
        let fee = checked(value.checked_mul(s.fee_rate), "order value × fee rate")?;
        self.fees = checked(self.fees.checked_add(fee), "fees")?;
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

    fn replay(signals: Vec<SignalRow>, last_close: f64) -> Backtest {
        Backtest {
            symbol: "ETH_USDT".into(),
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

    #[test]
    fn buys_open_lots_sells_close_the_oldest_and_the_rest_is_marked_at_the_last_close() {
        let bt = replay(
            vec![
                signal(1, Side::Buy, "100", false),
                signal(2, Side::Buy, "99", true), // throttled: no order
                signal(3, Side::Buy, "80", false),
                signal(4, Side::Sell, "110", false), // closes the 100 lot: 1 × 110 − 100 = +10
                signal(5, Side::Sell, "120", true),
                signal(6, Side::Sell, "70", false), // closes the 80 lot: 1.25 × 70 − 100 = −12.5
                signal(7, Side::Sell, "75", false), // nothing open
                signal(8, Side::Buy, "50", false),  // open: 2 × 60 − 100 = +20 at the last close
            ],
            60.0,
        );
        let s = BookSettings {
            notional: dec("100"),
            fee_rate: dec("0.001"),
        };
        let b = PaperBook::of(&bt, "USDT", &s).unwrap();
        assert_eq!(
            (b.buy_signals, b.sell_signals, b.throttled, b.paper_orders),
            (4, 4, 2, 6)
        );
        assert_eq!(
            (b.closed_trades, b.winning_trades, b.sells_without_lot, b.open_lots),
            (2, 1, 1, 1)
        );
        assert_eq!(
            (b.invested, b.realized, b.unrealized),
            (dec("300"), dec("-2.5"), dec("20"))
        );
        // Fees: 3 BUYs of 100 and SELLs worth 110 and 87.5 → 497.5 × 0.001.
        assert_eq!(b.fees, dec("0.4975"));
        assert_eq!(b.net, dec("17.0025"));
        assert!((b.return_pct.unwrap() - 5.6675).abs() < 1e-9);
    }

    #[test]
    fn nothing_bought_is_no_return_and_a_bad_price_is_an_error() {
        let s = BookSettings {
            notional: dec("100"),
            fee_rate: Decimal::ZERO,
        };
        let b = PaperBook::of(&replay(vec![signal(1, Side::Sell, "2", false)], 1.0), "USDT", &s).unwrap();
        assert_eq!((b.paper_orders, b.sells_without_lot, b.return_pct), (1, 1, None));
        let bad = replay(vec![signal(1, Side::Buy, "0", false)], 1.0);
        assert_eq!(PaperBook::of(&bad, "USDT", &s), Err(BookError::BadPrice("0".into(), 1)));
        let empty = Backtest {
            indicators: Vec::new(),
            ..replay(Vec::new(), 1.0)
        };
        assert_eq!(PaperBook::of(&empty, "USDT", &s), Err(BookError::NoClose));
    }
}
