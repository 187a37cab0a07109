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
use crate::ids::ClientOid;
use crate::model::ReasonCode;
use crate::money::{Usd, UsdPrice};
use crate::ports::{Exchange, ExchangeError, Lookup, OrderAck, OrderRequest};

/// Where the paper exchange's USD prices come from.
pub enum PaperPrices {
    /// Configured prices (offline).
    Fixed(HashMap<String, Decimal>),
    /// Crypto.com's public tickers, as live trading uses.
    Live(UsdTickers),
}

pub struct PaperExchange {
    min_notional: Usd,
    usd_prices: PaperPrices,
    /// Orders this container has filled, by client_oid (the paper book lives as long as the process).
    book: Mutex<HashMap<ClientOid, OrderAck>>,
}

impl PaperExchange {
    pub fn new(min_notional: Usd, usd_prices: HashMap<String, Decimal>) -> Self {
        Self::with_prices(min_notional, PaperPrices::Fixed(usd_prices))
    }

    pub fn with_prices(min_notional: Usd, usd_prices: PaperPrices) -> Self {
        Self {
            min_notional,
            usd_prices,
            book: Mutex::new(HashMap::new()),
        }
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
