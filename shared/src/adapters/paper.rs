//! The paper exchange (docs/DESIGN.md §7): no exchange mutation, the same minimum checks as live (in USD, like with
//! like), fills at the signal's price, and deterministic order ids derived from the client_oid, so a resend finds
//! the same order. Its USD prices of quote currencies are either configured (`PAPER_USD_PRICES=BTC=12000,ETH=180`,
//! so that paper sizing runs the live code path offline) or Crypto.com's public tickers (`PAPER_USD_PRICES=live`,
//! as live trading sizes); a currency without a price fails the order with QUOTE_CONVERSION_UNAVAILABLE, as live
//! does.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::adapters::crypto_com::UsdTickers;
use crate::decision::ReasonCode;
use crate::ids::{ClientOid, Side};
use crate::market::candles::Timeframe;
use crate::money::{quote_currency, Usd, UsdPrice};
use crate::order::{Leg, Oco, OcoAck, OcoReport, OpenOrder, OrderStatus, PlacedOrder, Reported};
use crate::ports::{Clock, Exchange, ExchangeError, Lookup, MarketData, OrderAck, OrderRequest};

/// Where the paper exchange's USD prices come from.
pub enum PaperPrices {
    /// Configured prices (offline).
    Fixed(HashMap<String, Decimal>),
    /// Crypto.com's public tickers, as live trading uses.
    Live(UsdTickers),
}

/// The paper exchange's taker fee when none is configured: 0.075 % of the order's quote value, as the backtest.
pub const DEFAULT_FEE_RATE: Decimal = Decimal::from_parts(75, 0, 0, false, 5);

pub struct PaperExchange {
    min_notional: Usd,
    /// Fee per order as a fraction of its quote value, charged in the quote currency.
    fee_rate: Decimal,
    usd_prices: PaperPrices,
    /// Orders this container has filled, by client_oid (the paper book lives as long as the process).
    book: Mutex<HashMap<ClientOid, OrderAck>>,
    /// Where protective legs are triggered from (docs/DESIGN.md §14); None: legs stay open, never triggered.
    market: Option<PaperMarket>,
}

/// The candles the paper exchange triggers protective legs on, and the clock whose market time says which have
/// closed (a replay's stepped clock, or the wall clock).
pub struct PaperMarket {
    pub candles: std::sync::Arc<dyn MarketData>,
    pub timeframe: Timeframe,
    pub clock: std::sync::Arc<dyn Clock>,
}

/// Candles read back at most when a paper OCO is followed (at 1h, about seven months).
const MAX_TRIGGER_CANDLES: i64 = 5_000;

impl PaperExchange {
    pub fn new(min_notional: Usd, usd_prices: HashMap<String, Decimal>) -> Self {
        Self::with_prices(min_notional, PaperPrices::Fixed(usd_prices))
    }

    pub fn with_prices(min_notional: Usd, usd_prices: PaperPrices) -> Self {
        Self {
            min_notional,
            fee_rate: DEFAULT_FEE_RATE,
            usd_prices,
            book: Mutex::new(HashMap::new()),
            market: None,
        }
    }

    /// Triggers protective legs on these candles (without: a paper OCO is held open and never fills).
    pub fn with_market(self, market: Option<PaperMarket>) -> Self {
        Self { market, ..self }
    }

    /// The taker fee rate (a fraction of the quote value: 0.00075 for 0.075 %).
    pub fn with_fee_rate(self, fee_rate: Decimal) -> Self {
        Self { fee_rate, ..self }
    }

    fn order_id(client_oid: &ClientOid) -> String {
        format!(
            "paper-{}",
            &hex::encode(Sha256::digest(client_oid.as_str().as_bytes()))[..20]
        )
    }
}

#[async_trait]
impl Exchange for PaperExchange {
    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError> {
        let prices = match &self.usd_prices {
            PaperPrices::Live(tickers) => return tickers.usd_price(currency).await,
            PaperPrices::Fixed(prices) => prices,
        };
        match prices.get(currency) {
            Some(p) => Ok(UsdPrice {
                currency: currency.to_string(),
                usd_per_unit: *p,
                source: "config:PAPER_USD_PRICES".to_string(),
            }),
            None => Err(ExchangeError::Rejected {
                code: ReasonCode::QuoteConversionUnavailable,
                message: format!("no USD price configured for {currency} (PAPER_USD_PRICES)"),
                snippet: format!("paper: no USD price for {currency}"),
            }),
        }
    }

    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        match (&req.notional, &req.quantity) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(ExchangeError::Rejected {
                    code: ReasonCode::ExchangeRejected,
                    message: "exactly one of notional and quantity must be set".into(),
                    snippet: "paper: invalid order shape".into(),
                })
            }
        }
        let value = req.usd_value;
        if value < self.min_notional {
            return Err(ExchangeError::Rejected {
                code: ReasonCode::MinNotionalNotMet,
                message: format!(
                    "order value {value} is below the minimum notional {}",
                    self.min_notional
                ),
                snippet: format!("paper: MIN_NOTIONAL {value} < {}", self.min_notional),
            });
        }
        let ack = OrderAck {
            order_id: Self::order_id(&req.client_oid),
            client_oid: req.client_oid.clone(),
        };
        self.book
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(req.client_oid.clone(), ack.clone());
        tracing::info!(symbol = %req.symbol, side = %req.side, client_oid = %req.client_oid, order_id = %ack.order_id,
            usd_value = %value, notional = ?req.notional.as_ref().map(ToString::to_string),
            quantity = ?req.quantity.map(|q| q.0), price = %req.ref_price, "paper order filled");
        Ok(ack)
    }

    async fn find_order(&self, client_oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        let book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        Ok(book.get(client_oid).cloned().map_or(Lookup::NotFound, Lookup::Placed))
    }

    /// A paper order fills at once and whole, at the price it was sized at (the signal's: the ticker's, or the
    /// replayed candle's close), with the taker fee in the quote currency. Derived from the order as recorded, not
    /// from this process's memory, so any container (the sweeper's too) reads the same fill.
    async fn order_detail(&self, order: &PlacedOrder) -> Result<Option<Reported>, ExchangeError> {
        Ok(paper_fill(order, self.fee_rate))
    }

    /// A paper order fills whole at once: the paper exchange never holds an open order.
    async fn open_orders(&self) -> Result<Vec<OpenOrder>, ExchangeError> {
        Ok(Vec::new())
    }

    /// A paper OCO is accepted when its numbers make sense, rounded as a live one would be at 8 decimals (the stop
    /// up, the take-profit and the quantity down); nothing is kept — its legs are derived from the candles.
    async fn create_oco(&self, oco: &Oco) -> Result<OcoAck, ExchangeError> {
        let ack = OcoAck {
            list_id: Self::order_id(&oco.take_profit_oid).replace("paper-", "paper-list-"),
            ..crate::order::protection::paper_ack(oco)
        };
        if ack.quantity <= Decimal::ZERO {
            return Err(ExchangeError::Rejected {
                code: ReasonCode::BelowMinOrderSize,
                message: format!("OCO quantity {} rounds down to 0", oco.quantity),
                snippet: "paper: OCO below one quantity step".into(),
            });
        }
        if ack.stop_price <= Decimal::ZERO || ack.stop_price >= ack.take_profit_price {
            return Err(ExchangeError::Rejected {
                code: ReasonCode::ExchangeRejected,
                message: format!(
                    "OCO refused: quantity {}, stop {}, take-profit {}",
                    ack.quantity, ack.stop_price, ack.take_profit_price
                ),
                snippet: "paper: invalid OCO".into(),
            });
        }
        tracing::info!(symbol = %oco.symbol, list_id = %ack.list_id, stop_price = %ack.stop_price,
            take_profit_price = %ack.take_profit_price, quantity = %ack.quantity, "paper OCO placed");
        Ok(ack)
    }

    /// The legs as the candles since the OCO was placed decide them: the first candle whose low reaches the stop
    /// fills the stop at its price, whose high reaches the take-profit fills that; both in one candle: the stop
    /// (pessimistic). The other leg is then CANCELED, as the exchange does for an OCO. Only candles closed by the
    /// clock's market time count, so a replay meets them in order; after a cancel was asked, only those closed by
    /// then — and with none of them triggering, both legs are CANCELED.
    async fn oco_detail(&self, oco: &Oco) -> Result<OcoReport, ExchangeError> {
        use crate::order::protection::paper_legs;
        let Some(m) = &self.market else {
            // No candles: the legs never trigger; a cancel takes effect at once.
            return Ok(paper_legs(oco, &[], self.fee_rate, oco.cancel_ms.is_some()));
        };
        let market_now = m.clock.market_now_ms();
        let now = oco.cancel_ms.map_or(market_now, |c| c.min(market_now));
        let step = m.timeframe.millis();
        let count = (now.saturating_sub(oco.market_ms) / step.max(1)).clamp(0, MAX_TRIGGER_CANDLES) + 1;
        let candles = m
            .candles
            .closed_candles(&oco.symbol, m.timeframe, usize::try_from(count).unwrap_or(1), now)
            .await
            .map_err(|e| ExchangeError::not_sent(format!("paper: candles for the OCO's legs: {e}")))?;
        let canceled = oco.cancel_ms.is_some_and(|c| c <= market_now);
        Ok(paper_legs(oco, &candles, self.fee_rate, canceled))
    }

    /// Nothing to do: a paper leg is never left live beside a filled sibling (both are derived together).
    async fn cancel_leg(&self, _oco: &Oco, _leg: Leg) -> Result<(), ExchangeError> {
        Ok(())
    }
}

/// The fill of a paper order: BUY the notional's worth at the price (rounded down to 8 decimals), SELL the quantity.
/// None: the order carries no usable size or price.
pub fn paper_fill(order: &PlacedOrder, fee_rate: Decimal) -> Option<Reported> {
    let z = order.sizing.as_ref().filter(|z| z.price > Decimal::ZERO)?;
    let quantity = match (order.side, z.quantity) {
        (Side::Sell, Some(q)) => q.0,
        (Side::Sell, None) => return None,
        (Side::Buy, _) => z
            .notional
            .amount
            .checked_div(z.price)?
            .round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero),
    };
    let value = quantity.checked_mul(z.price)?;
    Some(Reported {
        status: OrderStatus::Filled,
        filled_quantity: quantity.normalize(),
        average_price: z.price.normalize(),
        fee: value.checked_mul(fee_rate)?.round_dp(8).normalize(),
        fee_currency: quote_currency(&order.symbol).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{IdempotencyKey, Side, SignalId, Symbol};
    use crate::money::{Quantity, QuoteAmount};

    fn req(notional: Option<i64>, quantity: Option<Decimal>, usd_value: Decimal) -> OrderRequest {
        let sym = Symbol::parse("ETH_BTC").unwrap();
        OrderRequest {
            client_oid: IdempotencyKey::for_signal(&SignalId::new(&sym, Side::Buy, 1)).client_oid(),
            symbol: sym,
            side: Side::Buy,
            notional: notional.map(|n| QuoteAmount {
                amount: Decimal::from(n),
                currency: "BTC".into(),
            }),
            quantity: quantity.map(Quantity),
            ref_price: Decimal::from(2),
            usd_value: Usd(usd_value),
        }
    }

    #[tokio::test]
    async fn fills_deterministically_and_checks_min_notional_in_usd() {
        let prices = HashMap::from([("BTC".to_string(), Decimal::from(12_000))]);
        let ex = PaperExchange::new(Usd(Decimal::ONE), prices);
        let a = ex.place_order(&req(Some(100), None, Decimal::from(100))).await.unwrap();
        assert_eq!(
            a,
            ex.place_order(&req(Some(100), None, Decimal::from(100))).await.unwrap()
        );
        assert_eq!(ex.find_order(&a.client_oid).await.unwrap(), Lookup::Placed(a));
        // 0.4 ETH worth $0.80: below the $1 minimum, whatever the quote-currency number says.
        let small = ex
            .place_order(&req(None, Some(Decimal::new(4, 1)), Decimal::new(8, 1)))
            .await
            .unwrap_err();
        assert!(matches!(
            small,
            ExchangeError::Rejected {
                code: ReasonCode::MinNotionalNotMet,
                ..
            }
        ));
        assert_eq!(ex.usd_price("BTC").await.unwrap().usd_per_unit, Decimal::from(12_000));
        assert!(matches!(
            ex.usd_price("ETH").await,
            Err(ExchangeError::Rejected {
                code: ReasonCode::QuoteConversionUnavailable,
                ..
            })
        ));
    }
}
