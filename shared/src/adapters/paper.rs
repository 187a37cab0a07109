//! The paper exchange (DESIGN.md §7): no exchange mutation, the same minimum checks as live, fills at the signal's
//! price, and deterministic order ids derived from the client_oid, so a resend finds the same order.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::ids::ClientOid;
use crate::model::ReasonCode;
use crate::ports::{Exchange, ExchangeError, Lookup, OrderAck, OrderRequest};

pub struct PaperExchange {
    min_notional: Decimal,
    /// Orders this container has filled, by client_oid (the paper book lives as long as the process).
    book: Mutex<HashMap<ClientOid, OrderAck>>,
}

impl PaperExchange {
    pub fn new(min_notional: Decimal) -> Self {
        Self {
            min_notional,
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
    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let notional = match (req.notional, req.quantity) {
            (Some(n), None) => n,
            (None, Some(q)) => q * req.ref_price,
            _ => {
                return Err(ExchangeError::Rejected {
                    code: ReasonCode::ExchangeRejected,
                    message: "exactly one of notional and quantity must be set".into(),
                    snippet: "paper: invalid order shape".into(),
                })
            }
        };
        if notional < self.min_notional {
            return Err(ExchangeError::Rejected {
                code: ReasonCode::MinNotionalNotMet,
                message: format!(
                    "order value {notional} is below the minimum notional {}",
                    self.min_notional
                ),
                snippet: format!("paper: MIN_NOTIONAL {notional} < {}", self.min_notional),
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
            notional = %notional, price = %req.ref_price, "paper order filled");
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

    fn req(notional: Option<i64>, quantity: Option<Decimal>) -> OrderRequest {
        let sym = Symbol::parse("ETH_BTC").unwrap();
        OrderRequest {
            client_oid: IdempotencyKey::for_signal(&SignalId::new(&sym, Side::Buy, 1)).client_oid(),
            symbol: sym,
            side: Side::Buy,
            notional: notional.map(Decimal::from),
            quantity,
            ref_price: Decimal::from(2),
        }
    }

    #[tokio::test]
    async fn fills_deterministically_and_checks_min_notional() {
        let ex = PaperExchange::new(Decimal::ONE);
        let a = ex.place_order(&req(Some(100), None)).await.unwrap();
        assert_eq!(a, ex.place_order(&req(Some(100), None)).await.unwrap());
        assert_eq!(ex.find_order(&a.client_oid).await.unwrap(), Lookup::Placed(a));
        let small = ex.place_order(&req(None, Some(Decimal::new(4, 1)))).await.unwrap_err();
        assert!(matches!(
            small,
            ExchangeError::Rejected {
                code: ReasonCode::MinNotionalNotMet,
                ..
            }
        ));
    }
}
