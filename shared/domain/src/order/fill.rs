//! A placed order's fill: what the exchange reports (`private/get-order-detail`: `status`, `cumulative_quantity`,
//! `avg_price`, `cumulative_fee`, `fee_instrument_name`) and the rule by which a report is recorded. A recorded fill
//! only moves forward: the filled quantity never decreases, a final status is final, and a late or repeated report
//! changes nothing (docs/DESIGN.md §13).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::ids::{ClientOid, IdempotencyKey, Side, Symbol};
use crate::money::{base_currency, Sizing};
use crate::outbox::AlertRecord;
use crate::wire::wire_enum;

wire_enum!(
    /// An order's status on the exchange. NEW, ACTIVE and PARTIALLY_FILLED may still change; the others are final.
    OrderStatus {
        New = "NEW",
        Active = "ACTIVE",
        PartiallyFilled = "PARTIALLY_FILLED",
        Filled = "FILLED",
        Canceled = "CANCELED",
        Rejected = "REJECTED",
        Expired = "EXPIRED",
    }
);

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Filled | Self::Canceled | Self::Rejected | Self::Expired)
    }

    /// How far along the order's life a status is: a report never moves a recorded fill back.
    fn rank(self) -> u8 {
        match self {
            Self::New => 0,
            Self::Active => 1,
            Self::PartiallyFilled => 2,
            _ => 3,
        }
    }
}

/// One report of the exchange about an order, its numbers as the exchange gave them (cumulative, not increments).
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub status: OrderStatus,
    /// `cumulative_quantity`, in the base currency.
    pub filled_quantity: Decimal,
    /// `avg_price`, quote currency per base unit (0 while nothing is filled).
    pub average_price: Decimal,
    /// `cumulative_fee`, in `fee_currency`.
    pub fee: Decimal,
    /// `fee_instrument_name`: the base, the quote, or a third currency.
    pub fee_currency: String,
}

impl Reported {
    /// A report that cannot be true (a negative number, a fill without a price) is refused, never recorded.
    pub fn check(&self) -> Result<(), String> {
        if self.filled_quantity < Decimal::ZERO || self.average_price < Decimal::ZERO || self.fee < Decimal::ZERO {
            return Err(format!("negative number in the order's report: {self:?}"));
        }
        if self.filled_quantity > Decimal::ZERO && self.average_price.is_zero() {
            return Err(format!("filled quantity {} without a price", self.filled_quantity));
        }
        Ok(())
    }
}

/// The fill recorded on an order intent: the exchange's last report that moved it forward, when it was recorded,
/// and the record's version (each recorded report adds one; the conditional write compares it).
#[derive(Debug, Clone, PartialEq)]
pub struct Fill {
    pub status: OrderStatus,
    pub filled_quantity: Decimal,
    pub average_price: Decimal,
    pub fee: Decimal,
    pub fee_currency: String,
    pub updated_at: DateTime<Utc>,
    pub version: u32,
    /// How many of the recorded reports filled more: the `n` of the n-th ORDER EXECUTED message
    /// (`executed:{idempotency_key}:{n}`), so every increment's outbox row can be found from the intent.
    pub increments: u32,
}

/// The part of an order filled between two recorded reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Increment {
    /// Base quantity filled since the previous record.
    pub quantity: Decimal,
    /// Its average price (quote per base): from the two cumulative averages.
    pub price: Decimal,
    /// Fee charged for it, in the fill's fee currency.
    pub fee: Decimal,
}

impl Fill {
    /// The record a report leads to, or None when it would not move the recorded fill forward: a final status is
    /// final, a smaller filled quantity is a late read, and an equal one only counts with a later status.
    pub fn next(prev: Option<&Fill>, r: &Reported, now: DateTime<Utc>) -> Option<Fill> {
        let advances = match prev {
            None => true,
            Some(p) if p.status.is_terminal() => false,
            Some(p) => {
                r.filled_quantity > p.filled_quantity
                    || (r.filled_quantity == p.filled_quantity && r.status.rank() > p.status.rank())
            }
        };
        let more = r.filled_quantity > prev.map_or(Decimal::ZERO, |p| p.filled_quantity);
        let increments = prev.map_or(0, |p| p.increments) + u32::from(more);
        advances.then(|| Fill {
            increments,
            status: r.status,
            filled_quantity: r.filled_quantity,
            average_price: r.average_price,
            fee: r.fee,
            fee_currency: r.fee_currency.clone(),
            updated_at: now,
            version: prev.map_or(1, |p| p.version + 1),
        })
    }

    /// What was filled since `prev` (None: nothing more).
    pub fn increment_since(&self, prev: Option<&Fill>) -> Option<Increment> {
        let (q0, a0, f0) = prev.map_or((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |p| {
            (p.filled_quantity, p.average_price, p.fee)
        });
        let quantity = self.filled_quantity.checked_sub(q0).filter(|q| *q > Decimal::ZERO)?;
        // quote value now − quote value before, over the quantity between: the increment's own average price.
        let price = self
            .filled_quantity
            .checked_mul(self.average_price)
            .zip(q0.checked_mul(a0))
            .and_then(|(v1, v0)| v1.checked_sub(v0))
            .and_then(|v| v.checked_div(quantity))
            .filter(|p| *p > Decimal::ZERO)
            .unwrap_or(self.average_price);
        let fee = self
            .fee
            .checked_sub(f0)
            .filter(|f| *f >= Decimal::ZERO)
            .unwrap_or_default();
        Some(Increment { quantity, price, fee })
    }

    /// The base quantity this fill leaves in the account for `side`: a fee charged in the base currency comes off.
    pub fn net_quantity(&self, symbol: &Symbol) -> Decimal {
        if self.fee_currency == base_currency(symbol) {
            self.filled_quantity.checked_sub(self.fee).unwrap_or_default()
        } else {
            self.filled_quantity
        }
    }

    /// The change of the symbol's held quantity from `prev` to this fill: a BUY adds what it received net of a
    /// base-currency fee, a SELL takes off what it sold (and a base-currency fee).
    pub fn held_delta(&self, prev: Option<&Fill>, symbol: &Symbol, side: Side) -> Decimal {
        let before = prev.map_or(Decimal::ZERO, |p| p.net_quantity(symbol));
        let base_fee = |f: &Fill| {
            if f.fee_currency == base_currency(symbol) {
                f.fee
            } else {
                Decimal::ZERO
            }
        };
        match side {
            Side::Buy => self.net_quantity(symbol).checked_sub(before).unwrap_or_default(),
            Side::Sell => {
                let sold_now = self.filled_quantity.checked_add(base_fee(self)).unwrap_or_default();
                let sold_before = prev.map_or(Decimal::ZERO, |p| {
                    p.filled_quantity.checked_add(base_fee(p)).unwrap_or_default()
                });
                sold_before.checked_sub(sold_now).unwrap_or_default()
            }
        }
    }
}

/// An order the exchange holds open (`private/get-open-orders`), as the ghost check needs it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpenOrder {
    pub client_oid: String,
    pub order_id: String,
    pub symbol: String,
    pub side: String,
}

/// What the exchange needs to find an order, and what the paper exchange fills it from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedOrder {
    pub client_oid: ClientOid,
    pub symbol: Symbol,
    pub side: Side,
    /// The size the order was sent with (its reference price included).
    pub sizing: Option<Sizing>,
}

/// One recorded report, written atomically: the intent's fill (on the condition that its version is still
/// `seen_version`), the increment's ORDER EXECUTED outbox row, and the change of the symbol's held quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct FillUpdate {
    pub key: IdempotencyKey,
    pub symbol: Symbol,
    /// The recorded fill's version the update was computed from (0: none yet).
    pub seen_version: u32,
    pub fill: Fill,
    pub alert: Option<AlertRecord>,
    /// Added to the symbol's held quantity (`position#{symbol}`).
    pub held_delta: Decimal,
    /// A BUY that filled something stays among the open orders after a final fill: its protection follows
    /// (docs/DESIGN.md §14).
    pub keeps_open: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: OrderStatus, q: i64, avg: i64, fee: i64) -> Reported {
        Reported {
            status,
            filled_quantity: Decimal::from(q),
            average_price: Decimal::from(avg),
            fee: Decimal::new(fee, 2),
            fee_currency: "USDT".into(),
        }
    }

    fn t() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn only_moves_forward() {
        use OrderStatus::*;
        let a = Fill::next(None, &report(Active, 0, 0, 0), t()).unwrap();
        assert_eq!((a.version, a.increments), (1, 0));
        let b = Fill::next(Some(&a), &report(PartiallyFilled, 2, 100, 20), t()).unwrap();
        assert_eq!((b.version, b.increments), (2, 1));
        // A repeated or late read changes nothing.
        assert_eq!(Fill::next(Some(&b), &report(PartiallyFilled, 2, 100, 20), t()), None);
        assert_eq!(Fill::next(Some(&b), &report(Active, 0, 0, 0), t()), None);
        assert_eq!(Fill::next(Some(&b), &report(Active, 2, 100, 20), t()), None);
        // A later status at the same quantity moves it; a final one is final.
        let c = Fill::next(Some(&b), &report(Canceled, 2, 100, 20), t()).unwrap();
        assert_eq!((c.version, c.increments), (3, 1));
        assert_eq!(Fill::next(Some(&c), &report(Filled, 5, 100, 50), t()), None);
    }

    #[test]
    fn increments_carry_their_own_price_and_fee() {
        use OrderStatus::*;
        let a = Fill::next(None, &report(PartiallyFilled, 2, 100, 20), t()).unwrap();
        let b = Fill::next(Some(&a), &report(Filled, 5, 106, 50), t()).unwrap();
        let inc = b.increment_since(Some(&a)).unwrap();
        assert_eq!(inc.quantity, Decimal::from(3));
        assert_eq!(inc.price, Decimal::from(110)); // (5 × 106 − 2 × 100) / 3
        assert_eq!(inc.fee, Decimal::new(30, 2));
        assert_eq!(a.increment_since(None).unwrap().quantity, Decimal::from(2));
        let c = Fill::next(Some(&a), &report(Canceled, 2, 100, 20), t()).unwrap();
        assert_eq!(c.increment_since(Some(&a)), None);
    }

    #[test]
    fn held_quantity_is_net_of_base_fees() {
        let sym = Symbol::parse("ETH_USDT").unwrap();
        let mut r = report(OrderStatus::Filled, 2, 100, 1);
        r.fee_currency = "ETH".into();
        let buy = Fill::next(None, &r, t()).unwrap();
        assert_eq!(buy.held_delta(None, &sym, Side::Buy), Decimal::new(199, 2));
        assert_eq!(buy.held_delta(None, &sym, Side::Sell), Decimal::new(-201, 2));
        r.fee_currency = "USDT".into();
        let sell = Fill::next(None, &r, t()).unwrap();
        assert_eq!(sell.held_delta(None, &sym, Side::Sell), Decimal::from(-2));
    }

    #[test]
    fn impossible_reports_are_refused() {
        assert!(report(OrderStatus::Filled, 2, 0, 0).check().is_err());
        assert!(report(OrderStatus::Filled, -1, 10, 0).check().is_err());
        assert!(report(OrderStatus::Active, 0, 0, 0).check().is_ok());
    }
}
