//! The echo exchange: a small signed JSON protocol of this project's own, spoken by the stand-in in
//! `shared/tests/echo.rs` and by nothing on the internet. It is the second exchange behind the `Exchange` port, built
//! by the steps of CONTRIBUTING's "A new exchange" to show they are the whole of it, and compiled only with the
//! `echo-exchange` feature (the tests'), so a deployed stack cannot pick it.
//!
//! Every call is `POST {EXCHANGE_BASE_URL}/{method}` with the body `{"nonce": ms, "params": {...}}`, the headers
//! `x-echo-key` and `x-echo-signature` (`signing.rs`), and the answer `{"ok": true, "result": ...}` or
//! `{"ok": false, "code": ..., "message": ...}` (`classify.rs`). Methods: `price` {currency} → {usd}; `order`
//! {client_oid, symbol, side, notional | quantity} → {order_id}, or `DUPLICATE_CLIENT_OID` when that client_oid
//! was already placed (then the order is looked up); `order-detail` {client_oid} → {order_id, status,
//! filled_quantity, average_price, fee, fee_currency}, or `NOT_FOUND`; `open-orders` → [{client_oid, order_id,
//! symbol, side}]. Numbers travel as strings. No OCO: protection is refused (`Exchange`'s default), so a filled
//! BUY's protection ends FAILED and says so.

pub mod classify;
pub mod signing;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::http::{self, ClientError};
use crate::adapters::secrets::Credentials;
use crate::decision::ReasonCode;
use crate::ids::ClientOid;
use crate::money::UsdPrice;
use crate::order::{OpenOrder, OrderStatus, PlacedOrder, Reported};
use crate::ports::{Cause, Exchange, ExchangeError, Lookup, OrderAck, OrderRequest};
use classify::Reply;

pub struct Echo {
    http: reqwest::Client,
    base_url: String,
    creds: Credentials,
}

impl Echo {
    pub fn new(base_url: &str, timeout: Duration, creds: Credentials) -> Result<Self, ClientError> {
        Ok(Echo {
            http: http::client(timeout)?,
            base_url: base_url.trim_end_matches('/').to_string(),
            creds,
        })
    }

    /// One signed call; a call that did not come back is `NotSent` (the connection never opened) or `Unknown`.
    async fn call(&self, method: &str, params: Value) -> Result<Reply, ExchangeError> {
        let nonce = chrono::Utc::now().timestamp_millis();
        let body = json!({ "nonce": nonce, "params": params }).to_string().into_bytes();
        let sig = signing::sign(self.creds.api_secret.expose(), method, &body);
        let sent = self
            .http
            .post(format!("{}/{method}", self.base_url))
            .header("content-type", "application/json")
            .header("x-echo-key", self.creds.api_key.expose())
            .header("x-echo-signature", sig)
            .body(body)
            .send()
            .await;
        let failed = |e: reqwest::Error| {
            let not_sent = e.is_connect();
            let e = e.without_url();
            let (reason, cause) = (format!("{method}: {e}"), Some(Cause::new(e)));
            if not_sent {
                ExchangeError::NotSent { reason, cause }
            } else {
                ExchangeError::Unknown { reason, cause }
            }
        };
        let resp = sent.map_err(failed)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(failed)?;
        Ok(Reply::parse(status, &text))
    }

    async fn detail(&self, client_oid: &str) -> Result<Option<Value>, ExchangeError> {
        let reply = self.call("order-detail", json!({ "client_oid": client_oid })).await?;
        if reply.code.as_deref() == Some("NOT_FOUND") {
            return Ok(None);
        }
        match reply.error("order-detail") {
            Some(e) => Err(e),
            None => Ok(Some(reply.result)),
        }
    }
}

/// A decimal sent as a string; a missing or malformed one makes the answer unreadable (`Unknown`).
fn decimal(v: &Value, key: &str) -> Result<Decimal, ExchangeError> {
    v[key]
        .as_str()
        .and_then(|s| Decimal::from_str(s).ok())
        .ok_or_else(|| ExchangeError::unknown(format!("echo: no decimal {key} in {v}")))
}

fn string(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

#[async_trait]
impl Exchange for Echo {
    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError> {
        let reply = self.call("price", json!({ "currency": currency })).await?;
        if let Some(e) = reply.error("price") {
            return Err(e);
        }
        Ok(UsdPrice {
            currency: currency.to_string(),
            usd_per_unit: decimal(&reply.result, "usd")?,
            source: format!("echo:price {currency}"),
        })
    }

    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let mut params = json!({
            "client_oid": req.client_oid.as_str(),
            "symbol": req.symbol.as_str(),
            "side": req.side.as_str(),
        });
        if let Some(n) = &req.notional {
            params["notional"] = json!(n.amount.to_string());
        }
        if let Some(q) = &req.quantity {
            params["quantity"] = json!(q.0.to_string());
        }
        let reply = self.call("order", params).await?;
        if reply.code.as_deref() == Some("DUPLICATE_CLIENT_OID") {
            return match self.find_order(&req.client_oid).await? {
                Lookup::Placed(ack) => Ok(ack),
                Lookup::Rejected { code, message, snippet } => Err(ExchangeError::Rejected { code, message, snippet }),
                Lookup::NotFound => Err(ExchangeError::unknown("order: duplicate client_oid, yet no such order")),
            };
        }
        if let Some(e) = reply.error("order") {
            return Err(e);
        }
        Ok(OrderAck {
            order_id: string(&reply.result, "order_id"),
            client_oid: req.client_oid.clone(),
        })
    }

    async fn find_order(&self, client_oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        let Some(d) = self.detail(client_oid.as_str()).await? else {
            return Ok(Lookup::NotFound);
        };
        let status = OrderStatus::parse(d["status"].as_str().unwrap_or_default());
        let unfilled = decimal(&d, "filled_quantity")?.is_zero();
        if status == Some(OrderStatus::Rejected) || (status == Some(OrderStatus::Canceled) && unfilled) {
            return Ok(Lookup::Rejected {
                code: ReasonCode::ExchangeRejected,
                message: format!("order {client_oid} is {} with nothing filled", string(&d, "status")),
                snippet: d.to_string(),
            });
        }
        Ok(Lookup::Placed(OrderAck {
            order_id: string(&d, "order_id"),
            client_oid: client_oid.clone(),
        }))
    }

    async fn order_detail(&self, order: &PlacedOrder) -> Result<Option<Reported>, ExchangeError> {
        let Some(d) = self.detail(order.client_oid.as_str()).await? else {
            return Ok(None);
        };
        let status = OrderStatus::parse(d["status"].as_str().unwrap_or_default())
            .ok_or_else(|| ExchangeError::unknown(format!("echo: unknown status in {d}")))?;
        Ok(Some(Reported {
            status,
            filled_quantity: decimal(&d, "filled_quantity")?,
            average_price: decimal(&d, "average_price")?,
            fee: decimal(&d, "fee")?,
            fee_currency: string(&d, "fee_currency"),
        }))
    }

    async fn open_orders(&self) -> Result<Vec<OpenOrder>, ExchangeError> {
        let reply = self.call("open-orders", json!({})).await?;
        if let Some(e) = reply.error("open-orders") {
            return Err(e);
        }
        let rows = reply.result.as_array().cloned().unwrap_or_default();
        Ok(rows
            .iter()
            .map(|o| OpenOrder {
                client_oid: string(o, "client_oid"),
                order_id: string(o, "order_id"),
                symbol: string(o, "symbol"),
                side: string(o, "side"),
            })
            .collect())
    }
}
