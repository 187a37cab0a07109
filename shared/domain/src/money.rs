//! Money with its unit. A USD amount ([`Usd`]), an amount of a pair's quote currency ([`QuoteAmount`]) and a
//! quantity of its base asset ([`Quantity`]) are different types: the compiler refuses to mix them, and the only way
//! from one to another is a conversion at a recorded rate ([`UsdPrice`]: USD per unit of a currency, and where it
//! came from). Every operation on numbers from outside (the watchlist, the queue, the exchange) is checked: an
//! overflow or a division by zero is a [`SizingError`], never a panic.
//!
//! [`size_order`] is the one place an order's size is computed, for the paper and the live exchange alike: a BUY
//! is sized by its quote-currency notional, a SELL by its base quantity, both from the watchlist's USD amount.

#![deny(clippy::arithmetic_side_effects)]

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::ids::{Side, Symbol};

/// An amount in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Usd(pub Decimal);

/// An amount in a pair's quote currency (BTC for ETH_BTC, USDT for XRP_USDT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteAmount {
    pub amount: Decimal,
    pub currency: String,
}

/// A quantity of a pair's base asset (ETH for ETH_BTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(pub Decimal);

/// The USD price of one unit of a currency, with its source (recorded on the intent with every conversion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdPrice {
    pub currency: String,
    pub usd_per_unit: Decimal,
    /// e.g. `crypto_com:public/get-tickers BTC_USD`, `peg` (USD-pegged quote currencies), `config:PAPER_USD_PRICES`.
    pub source: String,
}

/// Currencies taken at 1 USD without a lookup. USDT and USDC are dollar-pegged stablecoins; treating them at par is
/// the convention of the original system and of Crypto.com's own USD notional figures.
pub const USD_PEGGED: &[&str] = &["USD", "USDT", "USDC"];

impl UsdPrice {
    /// The price of a pegged currency, or None when `currency` needs a lookup.
    pub fn pegged(currency: &str) -> Option<Self> {
        USD_PEGGED.contains(&currency).then(|| Self {
            currency: currency.to_string(),
            usd_per_unit: Decimal::ONE,
            source: "peg".to_string(),
        })
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} USD", self.0.normalize())
    }
}

impl fmt::Display for QuoteAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.normalize(), self.currency)
    }
}

/// Why an order cannot be sized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizingError {
    #[error("trade amount {0} must be positive")]
    NonPositiveAmount(Usd),
    #[error("{what} {value} must be positive")]
    NonPositivePrice { what: &'static str, value: Decimal },
    #[error("{0} is out of range (overflow)")]
    Overflow(String),
    #[error("order size {quantity} rounds down to 0 at {decimals} decimals")]
    RoundsToZero { quantity: Decimal, decimals: u32 },
}

/// An order's size, with everything that went into it. Both the notional and the quantity are rounded down to
/// `quantity_decimals`, so the USD value never exceeds what was asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    /// What the watchlist asked for.
    pub amount: Usd,
    /// The rate used to convert it into the quote currency.
    pub quote_price: UsdPrice,
    /// `amount` in the quote currency: a BUY's notional.
    pub notional: QuoteAmount,
    /// A SELL's quantity: `notional / price`, rounded down to `quantity_decimals`.
    pub quantity: Option<Quantity>,
    /// The order's value in USD as sized (for a SELL, after rounding the quantity down): what minimums compare to.
    pub usd_value: Usd,
    /// The signal's price the size was computed at (quote currency per base unit): what the paper exchange fills at.
    pub price: Decimal,
}

impl Sizing {
    /// A SELL's size at most `max` (what is held), rounded down to `decimals`; its notional and USD value follow.
    /// A BUY, or a SELL within `max`, is returned as it is.
    pub fn capped(self, max: Quantity, decimals: u32) -> Result<Sizing, SizingError> {
        let Some(q) = self.quantity.filter(|q| q.0 > max.0) else {
            return Ok(self);
        };
        tracing::info!(sized = %q.0, held = %max.0, "SELL capped at the quantity held");
        self.with_quantity(max, decimals)
    }

    /// A SELL of exactly `quantity` rounded down to `decimals` (what is held, when a SELL signal sells a released
    /// position whole); its notional and USD value follow.
    pub fn with_quantity(self, quantity: Quantity, decimals: u32) -> Result<Sizing, SizingError> {
        let q = quantity.0.round_dp_with_strategy(decimals, RoundingStrategy::ToZero);
        if q <= Decimal::ZERO {
            return Err(SizingError::RoundsToZero { quantity: q, decimals });
        }
        let notional = q
            .checked_mul(self.price)
            .ok_or_else(|| SizingError::Overflow(format!("{q} × {}", self.price)))?;
        let usd_value = usd_value_of(Quantity(q), self.price, &self.quote_price)?;
        Ok(Sizing {
            quantity: Some(Quantity(q)),
            notional: QuoteAmount {
                amount: notional,
                currency: self.notional.currency.clone(),
            },
            usd_value,
            ..self
        })
    }
}

/// Sizes a market order: USD → quote currency at `quote_price`; a BUY by that notional, a SELL by the quantity it
/// buys at `price` (quote currency per base unit), rounded down.
pub fn size_order(
    side: Side,
    amount: Usd,
    price: Decimal,
    quote_price: UsdPrice,
    quantity_decimals: u32,
) -> Result<Sizing, SizingError> {
    if amount.0 <= Decimal::ZERO {
        return Err(SizingError::NonPositiveAmount(amount));
    }
    if price <= Decimal::ZERO {
        return Err(SizingError::NonPositivePrice {
            what: "signal price",
            value: price,
        });
    }
    if quote_price.usd_per_unit <= Decimal::ZERO {
        return Err(SizingError::NonPositivePrice {
            what: "USD price of the quote currency",
            value: quote_price.usd_per_unit,
        });
    }
    let notional = amount
        .0
        .checked_div(quote_price.usd_per_unit)
        .ok_or_else(|| SizingError::Overflow(format!("{amount} / {} USD per unit", quote_price.usd_per_unit)))?
        .round_dp_with_strategy(quantity_decimals, RoundingStrategy::ToZero);
    if notional <= Decimal::ZERO {
        return Err(SizingError::RoundsToZero {
            quantity: notional,
            decimals: quantity_decimals,
        });
    }
    let (quantity, usd_value) = match side {
        Side::Buy => {
            let value = notional
                .checked_mul(quote_price.usd_per_unit)
                .map(Usd)
                .ok_or_else(|| SizingError::Overflow(format!("{notional} × {}", quote_price.usd_per_unit)))?;
            (None, value)
        }
        Side::Sell => {
            let q = notional
                .checked_div(price)
                .ok_or_else(|| SizingError::Overflow(format!("{notional} / {price}")))?
                .round_dp_with_strategy(quantity_decimals, RoundingStrategy::ToZero);
            if q <= Decimal::ZERO {
                return Err(SizingError::RoundsToZero {
                    quantity: q,
                    decimals: quantity_decimals,
                });
            }
            let value = usd_value_of(Quantity(q), price, &quote_price)?;
            (Some(Quantity(q)), value)
        }
    };
    Ok(Sizing {
        amount,
        notional: QuoteAmount {
            amount: notional,
            currency: quote_price.currency.clone(),
        },
        quote_price,
        quantity,
        usd_value,
        price,
    })
}

/// The USD value of a base quantity at `price` (quote per base) and the quote currency's USD price.
pub fn usd_value_of(quantity: Quantity, price: Decimal, quote_price: &UsdPrice) -> Result<Usd, SizingError> {
    quantity
        .0
        .checked_mul(price)
        .and_then(|quote| quote.checked_mul(quote_price.usd_per_unit))
        .map(Usd)
        .ok_or_else(|| SizingError::Overflow(format!("{} × {price} × {}", quantity.0, quote_price.usd_per_unit)))
}

/// Rounds a quantity down to a multiple of `tick` (an instrument's `qty_tick_size`); a tick ≤ 0 leaves it as is.
/// Beyond 28 significant digits the product may not land on the tick: that is an error, not an approximation.
pub fn round_down_to_tick(quantity: Quantity, tick: Decimal) -> Result<Quantity, SizingError> {
    if tick <= Decimal::ZERO {
        return Ok(quantity);
    }
    let out_of_range = || SizingError::Overflow(format!("{} at tick {tick}", quantity.0));
    let rounded = quantity
        .0
        .checked_div(tick)
        .map(|steps| steps.floor())
        .and_then(|steps| steps.checked_mul(tick))
        .ok_or_else(out_of_range)?;
    let on_tick = rounded.checked_rem(tick).is_some_and(|r| r.is_zero());
    if rounded > quantity.0 || !on_tick {
        return Err(out_of_range());
    }
    Ok(Quantity(rounded.normalize()))
}

/// The quote currency of a symbol: the part after the first `_` (`ETH_BTC` → `BTC`).
pub fn quote_currency(symbol: &Symbol) -> &str {
    symbol.as_str().split('_').nth(1).unwrap_or_default()
}

/// The base asset of a symbol: the part before the first `_` (`ETH_BTC` → `ETH`).
pub fn base_currency(symbol: &Symbol) -> &str {
    symbol.as_str().split('_').next().unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn btc(usd: i64) -> UsdPrice {
        UsdPrice {
            currency: "BTC".into(),
            usd_per_unit: Decimal::from(usd),
            source: "test".into(),
        }
    }

    #[test]
    fn a_usd_amount_becomes_quote_currency_at_the_recorded_rate() {
        // $100 on ETH_BTC at 0.05 BTC per ETH with BTC at $40,000: a BUY of 0.0025 BTC; a SELL of 0.05 ETH.
        let price = Decimal::new(5, 2);
        let buy = size_order(Side::Buy, Usd(Decimal::from(100)), price, btc(40_000), 8).unwrap();
        assert_eq!(buy.notional.to_string(), "0.0025 BTC");
        assert_eq!(buy.quantity, None);
        assert_eq!(buy.usd_value.0.normalize(), Decimal::from(100));
        // $100 at $12,000 per BTC: 0.00833333 BTC (8 decimals, rounded down), worth $99.99996.
        let twelve = UsdPrice {
            usd_per_unit: Decimal::from(12_000),
            ..btc(1)
        };
        let third = size_order(Side::Buy, Usd(Decimal::from(100)), price, twelve, 8).unwrap();
        assert_eq!(third.notional.amount, Decimal::new(833333, 8));
        assert_eq!(third.usd_value, Usd(Decimal::new(9999996, 5)));
        let sell = size_order(Side::Sell, Usd(Decimal::from(100)), price, btc(40_000), 8).unwrap();
        assert_eq!(sell.quantity, Some(Quantity(Decimal::new(5, 2))));
        assert_eq!(sell.usd_value.0.normalize(), Decimal::from(100));
        assert_eq!(sell.quote_price.source, "test");
        // A USD-pegged quote needs no lookup.
        let usdt = UsdPrice::pegged("USDT").unwrap();
        let s = size_order(Side::Sell, Usd(Decimal::from(100)), Decimal::new(125, 2), usdt, 8).unwrap();
        assert_eq!(s.quantity, Some(Quantity(Decimal::from(80))));
        assert!(UsdPrice::pegged("BTC").is_none());
    }

    #[test]
    fn impossible_sizes_are_errors_not_panics() {
        let huge = Usd(Decimal::MAX);
        let tiny = Decimal::new(1, 28);
        assert!(matches!(
            size_order(Side::Sell, huge, tiny, btc(1), 8),
            Err(SizingError::Overflow(_))
        ));
        let tiny_rate = UsdPrice {
            usd_per_unit: tiny,
            ..btc(1)
        };
        assert!(matches!(
            size_order(Side::Buy, huge, Decimal::ONE, tiny_rate, 8),
            Err(SizingError::Overflow(_))
        ));
        assert!(matches!(
            size_order(Side::Buy, Usd(Decimal::ZERO), Decimal::ONE, btc(1), 8),
            Err(SizingError::NonPositiveAmount(_))
        ));
        assert!(matches!(
            size_order(Side::Buy, Usd(Decimal::ONE), Decimal::ONE, btc(1_000_000_000), 8),
            Err(SizingError::RoundsToZero { .. })
        ));
        assert!(matches!(
            size_order(Side::Sell, Usd(Decimal::ONE), Decimal::from(1_000_000_000), btc(1), 8),
            Err(SizingError::RoundsToZero { .. })
        ));
    }

    #[test]
    fn symbols_split_into_base_and_quote() {
        let s = Symbol::parse("ETH_BTC").unwrap();
        assert_eq!((base_currency(&s), quote_currency(&s)), ("ETH", "BTC"));
    }

    fn decimal() -> impl Strategy<Value = Decimal> {
        // Mantissas over the whole 96-bit range and every scale: tiny, huge and ordinary values.
        (any::<i128>(), 0u32..=28, any::<bool>()).prop_map(|(m, scale, negative)| {
            let m = m.rem_euclid(1i128 << 96);
            Decimal::from_i128_with_scale(if negative { -m } else { m }, scale)
        })
    }

    proptest! {
        #[test]
        fn sizing_never_panics_and_never_exceeds_the_amount(
            amount in decimal(), price in decimal(), rate in decimal(), decimals in 0u32..=18, sell in any::<bool>()
        ) {
            let side = if sell { Side::Sell } else { Side::Buy };
            let quote = UsdPrice { usd_per_unit: rate, ..btc(1) };
            if let Ok(s) = size_order(side, Usd(amount), price, quote, decimals) {
                prop_assert!(s.notional.amount > Decimal::ZERO);
                // Rounding the quantity down never buys more than was asked for (up to the division's last digit).
                let slack = amount.checked_div(Decimal::from(1_000_000_000_000i64)).unwrap_or_default();
                let bound = amount.checked_add(slack).unwrap_or(Decimal::MAX);
                prop_assert!(s.usd_value.0 <= bound, "{} > {}", s.usd_value.0, amount);
                if let Some(q) = s.quantity {
                    prop_assert!(q.0 > Decimal::ZERO);
                    prop_assert!(q.0.scale() <= decimals);
                }
            }
        }

        #[test]
        fn tick_rounding_never_panics_never_rounds_up_and_lands_on_the_tick(q in decimal(), tick in decimal()) {
            if let Ok(r) = round_down_to_tick(Quantity(q), tick) {
                prop_assert!(r.0 <= q);
                if tick > Decimal::ZERO {
                    prop_assert!((r.0 % tick).is_zero());
                    prop_assert!(q - r.0 < tick);
                }
            }
        }

        #[test]
        fn usd_value_never_panics(q in decimal(), price in decimal(), rate in decimal()) {
            let _ = usd_value_of(Quantity(q), price, &UsdPrice { usd_per_unit: rate, ..btc(1) });
        }
    }
}
