//! The positions ledger (docs/DESIGN.md §13): built from the recorded fills alone, so it can never count a fill
//! twice — each order contributes its cumulative fill once, whatever number of reports led to it. BUY fills open
//! lots; SELL fills close them first in, first out. Realized P&L per close is in the quote currency and in USD at the
//! rates recorded with each order (the quote currency's USD price recorded when it was sized, just before the send),
//! fees included: a quote-currency fee is a cost, a base-currency fee reduces the quantity held (BUY) or adds to the
//! quantity given up (SELL). A fee in a third currency has no recorded rate: it is not converted, and the position
//! says so (`unpriced_fees`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::ids::{Side, Symbol};
use crate::money::{base_currency, quote_currency};
use crate::order::OrderIntent;

/// Decimal places of the prices and P&L a position shows (its quantity is shown as recorded).
pub const SHOWN_DECIMALS: u32 = 12;

/// One symbol's position as the report and the bot show it. Numbers are decimal strings on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Position {
    pub symbol: Symbol,
    /// Base quantity held, net of base-currency fees; 0 once closed (dust below one quantity step counts as closed).
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    /// The open lots' cost per base unit, fees included (quote currency); 0 when closed.
    #[serde(with = "rust_decimal::serde::str")]
    pub average_entry_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub realized_pnl_quote: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub realized_pnl_usd: Decimal,
    /// Every fee of the symbol's fills in USD (at the order's recorded rate).
    #[serde(with = "rust_decimal::serde::str")]
    pub fees_usd: Decimal,
    /// Base quantity sold beyond what the system's own BUY fills hold (coins bought elsewhere): no P&L for it.
    #[serde(with = "rust_decimal::serde::str")]
    pub unmatched_sell_quantity: Decimal,
    /// Fees in a currency that is neither the base nor the quote (no recorded rate): `{currency: amount}`.
    pub unpriced_fees: BTreeMap<String, String>,
    /// The protection of the symbol's latest filled BUY (docs/DESIGN.md §14), set by the report; None when none.
    pub protection: Option<crate::order::protection::ProtectionView>,
}

/// What an open position would realize at a price now (before the sale's fee): quantity × (price − cost per unit).
#[derive(Debug, Clone, PartialEq)]
pub struct Unrealized {
    pub last_price: Decimal,
    pub pnl_quote: Decimal,
    /// At the quote currency's USD price now, with its source; None when no USD price was found.
    pub pnl_usd: Option<(Decimal, String)>,
}

impl Position {
    /// Marks the open quantity at `last_price` (quote currency); `usd` is the quote's USD price now, when known.
    /// None: nothing is held, or the numbers are out of range.
    pub fn unrealized(&self, last_price: Decimal, usd: Option<&crate::money::UsdPrice>) -> Option<Unrealized> {
        if self.quantity.is_zero() {
            return None;
        }
        let pnl_quote = last_price
            .checked_sub(self.average_entry_price)?
            .checked_mul(self.quantity)?
            .round_dp(SHOWN_DECIMALS);
        let pnl_usd = usd.and_then(|p| {
            let v = pnl_quote.checked_mul(p.usd_per_unit)?.round_dp(SHOWN_DECIMALS);
            Some((v, p.source.clone()))
        });
        Some(Unrealized {
            last_price,
            pnl_quote,
            pnl_usd,
        })
    }
}

/// One close's realized P&L in USD, and the sum of every close up to it (all symbols): a point of the operator page's
/// chart of realized P&L over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealizedPoint {
    /// The closing fill's record time.
    pub at: DateTime<Utc>,
    pub symbol: Symbol,
    #[serde(with = "rust_decimal::serde::str")]
    pub realized_usd: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub cumulative_usd: Decimal,
}

#[derive(Debug, Clone)]
struct Lot {
    quantity: Decimal,
    cost_quote: Decimal,
    cost_usd: Decimal,
}

#[derive(Debug, Clone, Default)]
struct Book {
    lots: Vec<Lot>,
    realized_quote: Decimal,
    realized_usd: Decimal,
    fees_usd: Decimal,
    unmatched: Decimal,
    unpriced: BTreeMap<String, Decimal>,
    /// Realized USD by the UTC day (`YYYY-MM-DD`) of the closing fill's record.
    realized_usd_by_day: BTreeMap<String, Decimal>,
    /// Each close: the closing fill's record time and its realized USD.
    closes: Vec<(DateTime<Utc>, Decimal)>,
}

/// All symbols' positions, from the fills of a set of order intents.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    books: BTreeMap<Symbol, Book>,
    dust: Decimal,
}

impl Ledger {
    /// Folds the intents' recorded fills in the order the intents were created. `dust`: a remaining quantity below
    /// it counts as closed (one quantity step).
    pub fn from_intents<'a>(intents: impl IntoIterator<Item = &'a OrderIntent>, dust: Decimal) -> Self {
        let mut filled: Vec<&OrderIntent> = intents
            .into_iter()
            .filter(|i| i.fill.as_ref().is_some_and(|f| f.filled_quantity > Decimal::ZERO))
            .collect();
        filled.sort_by(|a, b| (a.created_at, &a.idempotency_key).cmp(&(b.created_at, &b.idempotency_key)));
        // Each order's fill at its intent's creation; each protective order's fill (a BUY's take-profit, stop or
        // flatten: a SELL) at the time it was recorded — after its entry, in time order with the other orders.
        let mut events: Vec<(DateTime<Utc>, usize, Side, crate::order::Fill)> = Vec::new();
        for (n, intent) in filled.iter().enumerate() {
            if let Some(fill) = &intent.fill {
                events.push((intent.created_at, n, intent.side, fill.clone()));
            }
            let legs = intent.protection.iter().flat_map(|p| p.fills.iter());
            for leg in legs.filter(|l| l.filled_quantity > Decimal::ZERO) {
                events.push((leg.updated_at.max(intent.created_at), n, Side::Sell, leg.as_fill()));
            }
        }
        events.sort_by_key(|e| (e.0, e.1));
        let mut ledger = Ledger::new(dust);
        for (_, n, side, fill) in events {
            let intent = filled[n];
            if let Some(sizing) = &intent.sizing {
                ledger.record(&intent.symbol, side, &fill, sizing.quote_price.usd_per_unit);
            }
        }
        ledger
    }

    /// An empty ledger; `dust`: a remaining quantity below it counts as closed (one quantity step).
    pub fn new(dust: Decimal) -> Self {
        Ledger {
            books: BTreeMap::new(),
            dust,
        }
    }

    /// Folds one order's fill into its symbol's book: a BUY opens a lot, a SELL closes lots first in, first out.
    /// `rate`: the USD price of one unit of the quote currency recorded with the order. Orders are recorded in the
    /// order they were placed (the backtest's paper book records its hypothetical fills the same way).
    pub fn record(&mut self, symbol: &Symbol, side: Side, fill: &crate::order::Fill, rate: Decimal) {
        let (base, quote) = (base_currency(symbol), quote_currency(symbol));
        let book = self.books.entry(symbol.clone()).or_default();
        let value = mul(fill.filled_quantity, fill.average_price);
        // The fee in the quote currency (a base fee valued at the fill's price), and what of it is a cash cost.
        let (fee_quote, quote_cost, base_fee) = if fill.fee_currency == quote {
            (fill.fee, fill.fee, Decimal::ZERO)
        } else if fill.fee_currency == base {
            (mul(fill.fee, fill.average_price), Decimal::ZERO, fill.fee)
        } else {
            if !fill.fee.is_zero() {
                let e = book.unpriced.entry(fill.fee_currency.clone()).or_default();
                *e = e.checked_add(fill.fee).unwrap_or(*e);
            }
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
        };
        book.fees_usd = add(book.fees_usd, mul(fee_quote, rate));
        match side {
            Side::Buy => {
                let quantity = sub(fill.filled_quantity, base_fee);
                let cost_quote = add(value, quote_cost);
                if quantity > Decimal::ZERO {
                    book.lots.push(Lot {
                        quantity,
                        cost_quote,
                        cost_usd: mul(cost_quote, rate),
                    });
                }
            }
            Side::Sell => {
                book.close(
                    add(fill.filled_quantity, base_fee),
                    sub(value, quote_cost),
                    rate,
                    fill.updated_at,
                );
            }
        }
        book.drop_dust(self.dust);
    }

    pub fn positions(&self) -> Vec<Position> {
        self.books.iter().map(|(symbol, b)| b.position(symbol)).collect()
    }

    /// Realized P&L in USD of the closes recorded on `day` (`YYYY-MM-DD`, UTC), all symbols: negative is a loss.
    pub fn realized_usd_on(&self, day: &str) -> Decimal {
        self.books
            .values()
            .filter_map(|b| b.realized_usd_by_day.get(day))
            .fold(Decimal::ZERO, |a, b| add(a, *b))
    }

    /// Realized P&L in USD of the closes recorded on `day`, per symbol (only symbols with a close that day).
    pub fn realized_usd_by_symbol_on(&self, day: &str) -> Vec<(&Symbol, Decimal)> {
        self.books
            .iter()
            .filter_map(|(s, b)| b.realized_usd_by_day.get(day).map(|v| (s, *v)))
            .collect()
    }

    /// Every close in time order (all symbols), with the running sum: realized P&L over time.
    pub fn realized_series(&self) -> Vec<RealizedPoint> {
        let mut closes: Vec<(DateTime<Utc>, &Symbol, Decimal)> = self
            .books
            .iter()
            .flat_map(|(s, b)| b.closes.iter().map(move |(at, usd)| (*at, s, *usd)))
            .collect();
        closes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut sum = Decimal::ZERO;
        closes
            .into_iter()
            .map(|(at, symbol, usd)| {
                sum = add(sum, usd);
                RealizedPoint {
                    at,
                    symbol: symbol.clone(),
                    realized_usd: usd.round_dp(SHOWN_DECIMALS).normalize(),
                    cumulative_usd: sum.round_dp(SHOWN_DECIMALS).normalize(),
                }
            })
            .collect()
    }

    /// The quantity the ledger holds for `symbol` (0 when none).
    pub fn held(&self, symbol: &Symbol) -> Decimal {
        self.books.get(symbol).map_or(Decimal::ZERO, Book::quantity)
    }
}

impl Book {
    fn quantity(&self) -> Decimal {
        self.lots.iter().fold(Decimal::ZERO, |q, l| add(q, l.quantity))
    }

    /// A SELL giving up `given` base units for `proceeds` (quote, net of a quote fee), at the sale's USD rate.
    fn close(&mut self, given: Decimal, proceeds: Decimal, rate: Decimal, at: DateTime<Utc>) {
        let mut left = given;
        let (mut cost_quote, mut cost_usd) = (Decimal::ZERO, Decimal::ZERO);
        while left > Decimal::ZERO && !self.lots.is_empty() {
            let lot = &mut self.lots[0];
            if lot.quantity <= left {
                // A whole lot: its recorded cost, no division (exact to the last decimal).
                left = sub(left, lot.quantity);
                cost_quote = add(cost_quote, lot.cost_quote);
                cost_usd = add(cost_usd, lot.cost_usd);
                self.lots.remove(0);
            } else {
                let part = |cost: Decimal| div(mul(cost, left), lot.quantity);
                let (q, u) = (part(lot.cost_quote), part(lot.cost_usd));
                cost_quote = add(cost_quote, q);
                cost_usd = add(cost_usd, u);
                lot.cost_quote = sub(lot.cost_quote, q);
                lot.cost_usd = sub(lot.cost_usd, u);
                lot.quantity = sub(lot.quantity, left);
                left = Decimal::ZERO;
            }
        }
        let matched = sub(given, left);
        self.unmatched = add(self.unmatched, left);
        if matched.is_zero() || given.is_zero() {
            return;
        }
        // Only the matched part of the sale has a cost basis: its share of the proceeds counts.
        let proceeds = if left.is_zero() {
            proceeds
        } else {
            div(mul(proceeds, matched), given)
        };
        self.realized_quote = add(self.realized_quote, sub(proceeds, cost_quote));
        let usd = sub(mul(proceeds, rate), cost_usd);
        self.realized_usd = add(self.realized_usd, usd);
        let on_day = self.realized_usd_by_day.entry(crate::time::day_of(at)).or_default();
        *on_day = add(*on_day, usd);
        self.closes.push((at, usd));
    }

    fn drop_dust(&mut self, dust: Decimal) {
        if self.quantity() < dust {
            self.lots.clear();
        }
    }

    fn position(&self, symbol: &Symbol) -> Position {
        let quantity = self.quantity();
        let cost = self.lots.iter().fold(Decimal::ZERO, |c, l| add(c, l.cost_quote));
        // Shown to SHOWN_DECIMALS places: a partial close divides a lot's cost (28 significant digits inside).
        let shown = |d: Decimal| d.round_dp(SHOWN_DECIMALS).normalize();
        Position {
            symbol: symbol.clone(),
            quantity: quantity.normalize(),
            average_entry_price: if quantity.is_zero() {
                Decimal::ZERO
            } else {
                shown(div(cost, quantity))
            },
            realized_pnl_quote: shown(self.realized_quote),
            realized_pnl_usd: shown(self.realized_usd),
            fees_usd: shown(self.fees_usd),
            unmatched_sell_quantity: self.unmatched.normalize(),
            unpriced_fees: self
                .unpriced
                .iter()
                .map(|(c, a)| (c.clone(), a.normalize().to_string()))
                .collect(),
            protection: None,
        }
    }
}

// Checked arithmetic on the exchange's numbers: an overflow (beyond 28 digits, never a real fill) saturates to zero
// for that term rather than panicking; the fills themselves are recorded as the exchange gave them.
fn add(a: Decimal, b: Decimal) -> Decimal {
    a.checked_add(b).unwrap_or(a)
}
fn sub(a: Decimal, b: Decimal) -> Decimal {
    a.checked_sub(b).unwrap_or(a)
}
fn mul(a: Decimal, b: Decimal) -> Decimal {
    a.checked_mul(b).unwrap_or_default()
}
fn div(a: Decimal, b: Decimal) -> Decimal {
    a.checked_div(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes;
    use crate::order::{Fill, OrderStatus};
    use chrono::{DateTime, Duration, Utc};

    fn filled(side: Side, at: i64, q: &str, price: &str, fee: &str, fee_ccy: &str) -> OrderIntent {
        let sym = Symbol::parse("ETH_USDT").unwrap();
        let t = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap() + Duration::seconds(at);
        let s = fakes::sent_signal(&sym, side, at * 1000, Decimal::from(100), t);
        let mut i = fakes::placed_intent(&s, t);
        i.fill = Some(Fill {
            status: OrderStatus::Filled,
            filled_quantity: q.parse().unwrap(),
            average_price: price.parse().unwrap(),
            fee: fee.parse().unwrap(),
            fee_currency: fee_ccy.into(),
            updated_at: t,
            version: 1,
            increments: 1,
        });
        i
    }

    #[test]
    fn realized_over_time_and_a_mark_at_a_price_now() {
        let intents = [
            filled(Side::Buy, 1, "2", "100", "0", "USDT"),
            filled(Side::Sell, 2, "1", "110", "0", "USDT"),
            filled(Side::Sell, 3, "0.5", "90", "0", "USDT"),
        ];
        let ledger = Ledger::from_intents(&intents, Decimal::new(1, 8));
        let series: Vec<(String, String)> = ledger
            .realized_series()
            .iter()
            .map(|p| (p.realized_usd.to_string(), p.cumulative_usd.to_string()))
            .collect();
        assert_eq!(series, [("10".into(), "10".into()), ("-5".into(), "5".into())]);
        let p = &ledger.positions()[0];
        let peg = crate::money::UsdPrice::pegged("USDT").unwrap();
        let u = p.unrealized(Decimal::from(104), Some(&peg)).unwrap();
        assert_eq!(u.pnl_quote, Decimal::from(2)); // 0.5 × (104 − 100)
        assert_eq!(u.pnl_usd.map(|(v, _)| v), Some(Decimal::from(2)));
        let loss = p.unrealized(Decimal::from(96), None).unwrap();
        assert_eq!((loss.pnl_quote, loss.pnl_usd), (Decimal::from(-2), None));
    }

    #[test]
    fn fifo_close_with_fees_to_the_last_decimal() {
        let dust = Decimal::new(1, 8);
        let intents = [
            filled(Side::Buy, 1, "1", "100", "0.1", "USDT"),
            filled(Side::Buy, 2, "1", "110", "0.11", "USDT"),
            filled(Side::Sell, 3, "1.5", "120", "0.18", "USDT"),
        ];
        let ledger = Ledger::from_intents(&intents, dust);
        let p = &ledger.positions()[0];
        // Proceeds 180 − 0.18 = 179.82; cost: lot 1 (100.1) + half of lot 2 (55.055) = 155.155.
        assert_eq!(p.realized_pnl_quote, "24.665".parse::<Decimal>().unwrap());
        assert_eq!(p.realized_pnl_usd, p.realized_pnl_quote); // USDT at 1
        assert_eq!(p.quantity, Decimal::new(5, 1));
        assert_eq!(p.average_entry_price, "110.11".parse::<Decimal>().unwrap());
        assert_eq!(p.fees_usd, "0.39".parse::<Decimal>().unwrap());
        assert_eq!(p.unmatched_sell_quantity, Decimal::ZERO);
        let day = crate::time::day_of(intents[2].fill.as_ref().unwrap().updated_at);
        assert_eq!(ledger.realized_usd_on(&day), p.realized_pnl_usd);
        assert_eq!(ledger.realized_usd_on("1999-01-01"), Decimal::ZERO);
    }

    #[test]
    fn base_fees_reduce_the_lot_and_unmatched_sells_have_no_pnl() {
        let intents = [
            filled(Side::Buy, 1, "1", "100", "0.001", "ETH"),
            filled(Side::Sell, 2, "2", "100", "0", "USDT"),
        ];
        let ledger = Ledger::from_intents(&intents, Decimal::new(1, 8));
        let p = &ledger.positions()[0];
        assert_eq!(p.quantity, Decimal::ZERO);
        assert_eq!(p.unmatched_sell_quantity, "1.001".parse::<Decimal>().unwrap());
        // 0.999 sold at 100 = 99.9 against a lot that cost 100.
        assert_eq!(p.realized_pnl_quote, "-0.1".parse::<Decimal>().unwrap());
        assert_eq!(ledger.held(&Symbol::parse("ETH_USDT").unwrap()), Decimal::ZERO);
    }

    #[test]
    fn a_third_currency_fee_is_listed_not_converted() {
        let intents = [filled(Side::Buy, 1, "1", "100", "0.5", "CRO")];
        let p = &Ledger::from_intents(&intents, Decimal::new(1, 8)).positions()[0];
        assert_eq!(p.unpriced_fees.get("CRO").map(String::as_str), Some("0.5"));
        assert_eq!(p.fees_usd, Decimal::ZERO);
    }
}
