//! Protection of a filled BUY (docs/DESIGN.md §14): what is placed on the exchange after the fill — one OCO, a
//! take-profit LIMIT and a stop-loss leg at a percentage of the average fill price — and the record of it kept on the
//! BUY's intent. The record only moves forward, one conditional write per step (its `version`), like the fill: a
//! retry, a crashed worker or a second container never places a second protection, and a leg's fill is recorded
//! once. Data and pure rules only; the steps that talk to the exchange are `flow::protect`.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::ids::{ClientOid, IdempotencyKey, Symbol};
use crate::order::{Fill, OrderStatus, Reported};
use crate::outbox::AlertRecord;
use crate::wire::wire_enum;

wire_enum!(
    /// An order that closes a protected position: the OCO's two legs, or the market SELL that flattens it when no
    /// stop could be placed.
    Leg {
        TakeProfit = "TAKE_PROFIT",
        StopLoss = "STOP_LOSS",
        Flatten = "FLATTEN",
    }
);

impl Leg {
    /// The leg's client_oid: this system's form (`so1-` + 32 hex digits) from the entry's key and the leg, so any
    /// worker derives the same one and the exchange's copy can be looked up after a lost answer.
    pub fn client_oid(self, key: &IdempotencyKey) -> ClientOid {
        ClientOid::derive_from(&format!("{key}#protect#{self}"))
    }
}

wire_enum!(
    /// Where a position's protection stands. PLACING: claimed, the OCO sent or being sent (its outcome may be
    /// unknown); ACTIVE: both legs on the exchange; CANCELING: a SELL signal asked for both legs to be cancelled
    /// (asynchronous: confirmed by reading them); FLATTENING: no stop could be placed, a market SELL closes the
    /// position; CLOSED: a leg or the flatten filled and the rest is final; RELEASED: cancelled, both legs confirmed
    /// final, the position left to the SELL signal. OFF (protection disabled for the symbol), DUST (less than one
    /// quantity step), FAILED (no stop and `on_protection_failure = alert`), CLOSED and RELEASED are final.
    ProtectionStatus {
        Placing = "PLACING",
        Active = "ACTIVE",
        Canceling = "CANCELING",
        Released = "RELEASED",
        Flattening = "FLATTENING",
        Closed = "CLOSED",
        Failed = "FAILED",
        Off = "OFF",
        Dust = "DUST",
    }
);

impl ProtectionStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Closed | Self::Released | Self::Failed | Self::Off | Self::Dust
        )
    }

    /// A position whose exit the exchange holds (or that needs none): not a violation however old.
    pub fn is_protected(self) -> bool {
        matches!(
            self,
            Self::Active | Self::Canceling | Self::Closed | Self::Released | Self::Off | Self::Dust
        )
    }
}

wire_enum!(
    /// What happens when no stop can be placed after the bounded retries: close the position with a market SELL
    /// (the default), or only say so loudly.
    OnFailure { Flatten = "flatten", Alert = "alert" }
);

/// A symbol's protection settings, read from its watchlist row when a BUY fills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProtectionSettings {
    pub enabled: bool,
    /// Percent under the average fill price for the stop (3 for 3 %).
    pub sl_pct: Decimal,
    /// Percent over the average fill price for the take-profit.
    pub tp_pct: Decimal,
    pub on_failure: OnFailure,
}

/// Rejections of the OCO before the failure path runs.
pub const MAX_ATTEMPTS: u32 = 3;

/// What to place for one filled BUY.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// The filled quantity net of a base-currency fee, rounded down to `decimals`.
    pub quantity: Decimal,
    pub stop_price: Decimal,
    pub take_profit_price: Decimal,
}

impl Plan {
    /// The plan for a BUY's fill: quantity net of a base-currency fee rounded down to `decimals` places, the stop
    /// `sl_pct` under the average fill price and the take-profit `tp_pct` over it. None when the numbers are out of
    /// range. The exchange adapter rounds both prices to the instrument's tick in the safe direction (the stop up,
    /// the take-profit down: both nearer the market) and the quantity down to its step, and says what it sent.
    pub fn for_fill(fill: &Fill, symbol: &Symbol, s: &ProtectionSettings, decimals: u32) -> Option<Plan> {
        let hundred = Decimal::ONE_HUNDRED;
        let avg = fill.average_price;
        let stop = avg.checked_mul(hundred.checked_sub(s.sl_pct)?)?.checked_div(hundred)?;
        let tp = avg.checked_mul(hundred.checked_add(s.tp_pct)?)?.checked_div(hundred)?;
        let quantity = fill
            .net_quantity(symbol)
            .round_dp_with_strategy(decimals.min(28), RoundingStrategy::ToZero);
        (stop > Decimal::ZERO && tp > avg).then(|| Plan {
            quantity: quantity.normalize(),
            stop_price: stop
                .round_dp_with_strategy(12, RoundingStrategy::AwayFromZero)
                .normalize(),
            take_profit_price: tp.round_dp_with_strategy(12, RoundingStrategy::ToZero).normalize(),
        })
    }
}

/// One closing order's recorded fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegFill {
    pub leg: Leg,
    pub status: OrderStatus,
    #[serde(with = "rust_decimal::serde::str")]
    pub filled_quantity: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub average_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub fee: Decimal,
    pub fee_currency: String,
    pub updated_at: DateTime<Utc>,
}

impl LegFill {
    /// As a fill, for the ledger and the fill rules (version and increments are not kept per leg).
    pub fn as_fill(&self) -> Fill {
        Fill {
            status: self.status,
            filled_quantity: self.filled_quantity,
            average_price: self.average_price,
            fee: self.fee,
            fee_currency: self.fee_currency.clone(),
            updated_at: self.updated_at,
            version: 0,
            increments: 0,
        }
    }

    /// The record a report leads to, or None when it would not move this leg's fill forward ([`Fill::next`]).
    pub fn next(leg: Leg, prev: Option<&LegFill>, r: &Reported, now: DateTime<Utc>) -> Option<LegFill> {
        let prev = prev.map(LegFill::as_fill);
        let f = Fill::next(prev.as_ref(), r, now)?;
        Some(LegFill {
            leg,
            status: f.status,
            filled_quantity: f.filled_quantity,
            average_price: f.average_price,
            fee: f.fee,
            fee_currency: f.fee_currency,
            updated_at: f.updated_at,
        })
    }
}

/// The protection record on a BUY's intent (stored as one JSON attribute with its version beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    pub status: ProtectionStatus,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub stop_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub take_profit_price: Decimal,
    /// The OCO's `list_id`, once the exchange answered (None after a lost answer found by lookup).
    #[serde(default)]
    pub list_id: Option<String>,
    /// Sends of the OCO so far (rejections and unknown outcomes).
    pub attempts: u32,
    /// When the OCO was known to be on the exchange (answered, or found by lookup): SL/TP PLACED was written then.
    #[serde(default)]
    pub placed_at: Option<DateTime<Utc>>,
    /// Until when the worker that wrote PLACING or FLATTENING owns the send (ms since the epoch).
    #[serde(default)]
    pub lease_until_ms: i64,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The closing orders' recorded fills (a leg appears once it filled anything).
    #[serde(default)]
    pub fills: Vec<LegFill>,
    /// Market time when the OCO was first sent: the paper exchange triggers its legs on candles after it.
    pub market_ms: i64,
    /// Market time when a SELL signal asked for the legs to be cancelled (the paper exchange's legs trigger only
    /// on candles before it).
    #[serde(default)]
    pub cancel_ms: Option<i64>,
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Protection {
    /// A first record (version 1) at `now`: `plan`'s numbers, the sender's lease until `lease_until_ms`.
    pub fn first(
        status: ProtectionStatus,
        plan: &Plan,
        market_ms: i64,
        now: DateTime<Utc>,
        lease_until_ms: i64,
    ) -> Self {
        Protection {
            status,
            quantity: plan.quantity,
            stop_price: plan.stop_price,
            take_profit_price: plan.take_profit_price,
            list_id: None,
            attempts: 0,
            placed_at: None,
            lease_until_ms,
            last_error: None,
            fills: Vec::new(),
            market_ms,
            cancel_ms: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The record's next version, in `status`, written at `now`.
    pub fn next(&self, status: ProtectionStatus, now: DateTime<Utc>) -> Self {
        Protection {
            status,
            version: self.version.saturating_add(1),
            updated_at: now,
            ..self.clone()
        }
    }

    pub fn fill_of(&self, leg: Leg) -> Option<&LegFill> {
        self.fills.iter().find(|f| f.leg == leg)
    }

    /// The base quantity the closing orders have sold so far.
    pub fn sold(&self) -> Decimal {
        self.fills
            .iter()
            .fold(Decimal::ZERO, |a, f| a.checked_add(f.filled_quantity).unwrap_or(a))
    }

    /// The client_oids of the orders this protection may have on the exchange: both legs and the flatten.
    pub fn client_oids(&self, key: &IdempotencyKey) -> Vec<ClientOid> {
        Leg::ALL.iter().map(|l| l.client_oid(key)).collect()
    }
}

/// A protective OCO: what `private/advanced/create-oco` is sent, and what finds its legs again.
#[derive(Debug, Clone, PartialEq)]
pub struct Oco {
    pub symbol: Symbol,
    pub quantity: Decimal,
    pub stop_price: Decimal,
    pub take_profit_price: Decimal,
    pub take_profit_oid: ClientOid,
    pub stop_loss_oid: ClientOid,
    /// Market time of the first send (the paper exchange's legs trigger on candles opened after it).
    pub market_ms: i64,
    /// Market time of the cancel request, if any (the paper exchange's legs trigger on candles opened before it).
    pub cancel_ms: Option<i64>,
}

impl Oco {
    pub fn oid(&self, leg: Leg) -> Option<&ClientOid> {
        match leg {
            Leg::TakeProfit => Some(&self.take_profit_oid),
            Leg::StopLoss => Some(&self.stop_loss_oid),
            Leg::Flatten => None,
        }
    }
}

/// What a paper OCO is placed as: the prices and the quantity at 8 decimals, the stop up and the take-profit and the
/// quantity down (as a live one is rounded to its ticks). The paper exchange and the backtest's book both use it.
pub fn paper_ack(oco: &Oco) -> OcoAck {
    OcoAck {
        list_id: String::new(),
        quantity: oco
            .quantity
            .round_dp_with_strategy(8, RoundingStrategy::ToZero)
            .normalize(),
        stop_price: oco
            .stop_price
            .round_dp_with_strategy(8, RoundingStrategy::AwayFromZero)
            .normalize(),
        take_profit_price: oco
            .take_profit_price
            .round_dp_with_strategy(8, RoundingStrategy::ToZero)
            .normalize(),
    }
}

/// The leg of a paper OCO the candles trigger first, its fill price and the candle's open time: the first candle
/// opened at or after the OCO's placement (`market_ms`) whose low reaches the stop fills the stop at its price, whose
/// high reaches the take-profit fills that; both in one candle: the stop (pessimistic). `candles` are those closed by
/// the time asked about (the paper exchange's clock, or a cancel). The paper exchange and the backtest's book both
/// use it, so the two agree.
pub fn first_trigger(candles: &[crate::market::candles::Candle], oco: &Oco) -> Option<(Leg, Decimal, i64)> {
    use rust_decimal::prelude::FromPrimitive;
    candles.iter().filter(|c| c.open_ms >= oco.market_ms).find_map(|c| {
        let (low, high) = (Decimal::from_f64(c.low)?, Decimal::from_f64(c.high)?);
        if low <= oco.stop_price {
            Some((Leg::StopLoss, oco.stop_price, c.open_ms))
        } else if high >= oco.take_profit_price {
            Some((Leg::TakeProfit, oco.take_profit_price, c.open_ms))
        } else {
            None
        }
    })
}

/// What the paper exchange reports of an OCO's legs, given the candles closed so far: the first trigger
/// ([`first_trigger`]) fills its leg whole at its price — the fee `fee_rate` of its value, in the quote currency — and
/// the other leg is CANCELED; with none, both legs are ACTIVE, or CANCELED when `canceled` (a cancel asked and due).
pub fn paper_legs(
    oco: &Oco,
    candles: &[crate::market::candles::Candle],
    fee_rate: Decimal,
    canceled: bool,
) -> OcoReport {
    let leg = |status, filled_quantity: Decimal, average_price: Decimal| {
        let fee = filled_quantity
            .checked_mul(average_price)
            .and_then(|v| v.checked_mul(fee_rate))
            .unwrap_or_default();
        Some(Reported {
            status,
            filled_quantity,
            average_price,
            fee: fee.round_dp(8).normalize(),
            fee_currency: crate::money::quote_currency(&oco.symbol).to_string(),
        })
    };
    let (zero, idle) = (
        Decimal::ZERO,
        if canceled {
            OrderStatus::Canceled
        } else {
            OrderStatus::Active
        },
    );
    match first_trigger(candles, oco) {
        Some((Leg::TakeProfit, price, _)) => OcoReport {
            take_profit: leg(OrderStatus::Filled, oco.quantity, price),
            stop_loss: leg(OrderStatus::Canceled, zero, zero),
        },
        Some((_, price, _)) => OcoReport {
            take_profit: leg(OrderStatus::Canceled, zero, zero),
            stop_loss: leg(OrderStatus::Filled, oco.quantity, price),
        },
        None => OcoReport {
            take_profit: leg(idle, zero, zero),
            stop_loss: leg(idle, zero, zero),
        },
    }
}

/// The exchange's answer to a placed OCO: its list id and what it was sent with after rounding to the instrument.
#[derive(Debug, Clone, PartialEq)]
pub struct OcoAck {
    pub list_id: String,
    pub quantity: Decimal,
    pub stop_price: Decimal,
    pub take_profit_price: Decimal,
}

/// What the exchange reports about the two legs now (None: that leg is unknown to it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OcoReport {
    pub take_profit: Option<Reported>,
    pub stop_loss: Option<Reported>,
}

/// One recorded step: the protection as it now stands, on the condition that the stored one is still at
/// `seen_version` (0: none yet), with the step's outbox row and the change of the held quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtectionUpdate {
    pub key: crate::ids::IdempotencyKey,
    pub symbol: crate::ids::Symbol,
    pub seen_version: u32,
    pub protection: Protection,
    pub alert: Option<AlertRecord>,
    /// Added to the symbol's held quantity (negative: what the closing orders sold).
    pub held_delta: Decimal,
}

/// A position's protection as the report shows it: decimals as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtectionView {
    pub status: ProtectionStatus,
    pub stop_price: String,
    pub take_profit_price: String,
    pub client_oids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Side;

    fn fill(q: &str, avg: &str, fee: &str, ccy: &str) -> Fill {
        Fill {
            status: OrderStatus::Filled,
            filled_quantity: q.parse().unwrap(),
            average_price: avg.parse().unwrap(),
            fee: fee.parse().unwrap(),
            fee_currency: ccy.into(),
            updated_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            version: 1,
            increments: 1,
        }
    }

    fn settings(sl: i64, tp: i64) -> ProtectionSettings {
        ProtectionSettings {
            enabled: true,
            sl_pct: Decimal::from(sl),
            tp_pct: Decimal::from(tp),
            on_failure: OnFailure::Flatten,
        }
    }

    #[test]
    fn plan_prices_from_the_average_fill_and_quantity_net_of_a_base_fee() {
        let sym = Symbol::parse("ETH_USDT").unwrap();
        let p = Plan::for_fill(&fill("2", "100", "0.002", "ETH"), &sym, &settings(3, 2), 8).unwrap();
        assert_eq!(p.quantity, "1.998".parse::<Decimal>().unwrap());
        assert_eq!(p.stop_price, Decimal::from(97));
        assert_eq!(p.take_profit_price, Decimal::from(102));
        // A quote fee leaves the quantity whole; the stop rounds up and the take-profit down (both nearer).
        let p = Plan::for_fill(&fill("0.123456789", "3", "0.01", "USDT"), &sym, &settings(3, 3), 8).unwrap();
        assert_eq!(p.quantity, "0.12345678".parse::<Decimal>().unwrap());
        assert_eq!(
            (p.stop_price, p.take_profit_price),
            ("2.91".parse().unwrap(), "3.09".parse().unwrap())
        );
        assert_eq!(
            Plan::for_fill(&fill("1", "100", "0", "USDT"), &sym, &settings(100, 2), 8),
            None
        );
    }

    #[test]
    fn leg_client_oids_are_this_systems_form_and_distinct() {
        let sym = Symbol::parse("ETH_USDT").unwrap();
        let key = IdempotencyKey::for_signal(&crate::ids::SignalId::new(&sym, Side::Buy, 1));
        let oids: Vec<ClientOid> = Leg::ALL.iter().map(|l| l.client_oid(&key)).collect();
        for o in &oids {
            assert!(ClientOid::is_system_form(o.as_str()), "{o}");
            assert_ne!(o, &key.client_oid());
        }
        assert!(oids[0] != oids[1] && oids[1] != oids[2] && oids[0] != oids[2]);
    }
}
