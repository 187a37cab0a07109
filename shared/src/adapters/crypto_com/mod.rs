//! Crypto.com Exchange v1 adapter (reqwest, rustls): signed `private/create-order` (MARKET BUY by notional, MARKET
//! SELL by quantity rounded down to the instrument's `qty_tick_size`), `private/get-order-detail` by client_oid,
//! `public/get-instruments` and `public/get-risk-parameters` (cached per container), and `public/get-tickers` for
//! the USD price of a quote currency (`{CCY}_USD`, else `{CCY}_USDT`; its last trade price, cached for
//! [`TICKER_TTL`] so that one invocation's batch converts at one rate).
//!
//! Outcomes are sorted by what they mean for the order, reading the body before the HTTP status: code 0 → placed;
//! a definitive refusal → `Rejected` with its class; 204 (duplicate client_oid) → the order exists, look it up;
//! 429/42901 → the request was dropped, retried with backoff a few times; 5xx without a definitive code, 408/40801,
//! timeouts and resets after the request left → `Unknown`, reconciled by client_oid; a connection that never opened
//! → `NotSent`. Credentials live in
//! [`Credentials`], which never prints them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::http::{self, ClientError};
use crate::adapters::rate::{Budget, Pace, RateLimiter};

pub mod candles;
pub mod classify;
pub mod signing;

use async_trait::async_trait;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};

use crate::adapters::secrets::Credentials;
use crate::decision::ReasonCode;
use crate::ids::{ClientOid, Side, Symbol};
use crate::money::{round_down_to_tick, UsdPrice};
use crate::order::{Leg, Oco, OcoAck, OcoReport, OpenOrder, OrderStatus, PlacedOrder, Reported};
use crate::ports::{Cause, Exchange, ExchangeError, Lookup, OrderAck, OrderRequest};
use crate::text::truncate;
use classify::{classify_text, code_class, CodeClass};
use signing::sign;

#[derive(Debug, Clone)]
pub struct CryptoComSettings {
    /// e.g. `https://api.crypto.com/exchange/v1` (the UAT sandbox or a local fake in tests).
    pub base_url: String,
    pub timeout: Duration,
    /// Retries of a rate-limited call, and the first backoff (doubled each time).
    pub rate_limit_retries: u32,
    pub backoff: Duration,
    /// The create-orders this process sends at most (its share of [`ORDER_LIMIT`]).
    pub order_budget: Budget,
}

/// create-order's limit: 15 requests per 100 ms per API key.
pub const ORDER_LIMIT: Budget = Budget {
    count: 15,
    window: Duration::from_millis(100),
};
/// One container's default share: 5 per 100 ms, three containers at once (the template's `MaximumConcurrency`) and
/// batches of 5 (its `BatchSize`), so a batch goes in one window.
pub const ORDER_BUDGET: Budget = Budget {
    count: 5,
    window: Duration::from_millis(100),
};

#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    pub qty_tick: Decimal,
    /// `price_tick_size`, when the exchange says (protective prices are rounded to it; else to 8 decimals).
    pub price_tick: Option<Decimal>,
    pub base_ccy: String,
    /// Decimals of a quote-currency amount (a BUY's notional), when the exchange says.
    pub quote_decimals: Option<u32>,
}

/// How long a USD price from `public/get-tickers` is reused.
pub const TICKER_TTL: Duration = Duration::from_secs(5);

pub struct CryptoCom {
    http: reqwest::Client,
    settings: CryptoComSettings,
    creds: Credentials,
    next_id: AtomicU64,
    instruments: tokio::sync::OnceCell<HashMap<String, Instrument>>,
    min_notional_usd: tokio::sync::OnceCell<HashMap<String, Decimal>>,
    tickers: UsdTickers,
    orders: RateLimiter,
}

/// USD prices of currencies from Crypto.com's public `get-tickers` (no credentials): `{CCY}_USD`, else
/// `{CCY}_USDT`, last trade price, each reused for [`TICKER_TTL`]. The live adapter sizes with it, and so can the
/// paper exchange (`PAPER_USD_PRICES=live`).
pub struct UsdTickers {
    http: reqwest::Client,
    base_url: String,
    usd_prices: std::sync::Mutex<HashMap<String, (std::time::Instant, UsdPrice)>>,
}

impl UsdTickers {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, ClientError> {
        Ok(Self::with_client(http::client(timeout)?, base_url))
    }

    /// Over a client the caller already has (the live adapter shares its own: one TLS setup per container).
    fn with_client(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base_url: base_url.to_string(),
            usd_prices: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError> {
        let cached = self
            .usd_prices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(currency)
            .filter(|(at, _)| at.elapsed() < TICKER_TTL)
            .map(|(_, p)| p.clone());
        if let Some(p) = cached {
            return Ok(p);
        }
        let mut tried = Vec::new();
        for quote in ["USD", "USDT"] {
            let instrument = format!("{currency}_{quote}");
            let result = public_get(
                &self.http,
                &self.base_url,
                "public/get-tickers",
                &[("instrument_name", &instrument)],
            )
            .await?;
            let Some(usd_per_unit) = ticker_last_price(&result, &instrument) else {
                tried.push(instrument);
                continue;
            };
            let price = UsdPrice {
                currency: currency.to_string(),
                usd_per_unit,
                source: format!("crypto_com:public/get-tickers {instrument}"),
            };
            self.usd_prices
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(currency.to_string(), (std::time::Instant::now(), price.clone()));
            return Ok(price);
        }
        Err(ExchangeError::Rejected {
            code: ReasonCode::QuoteConversionUnavailable,
            message: format!("no last price for {}", tried.join(" or ")),
            snippet: format!("public/get-tickers: no price for {}", tried.join(", ")),
        })
    }
}

#[async_trait]
impl crate::ports::Prices for UsdTickers {
    /// `public/get-tickers` for the instrument, not cached (asked for by a person, rarely).
    async fn last_price(&self, symbol: &Symbol) -> Result<Decimal, ExchangeError> {
        let instrument = symbol.as_str();
        let result = public_get(
            &self.http,
            &self.base_url,
            "public/get-tickers",
            &[("instrument_name", instrument)],
        )
        .await?;
        ticker_last_price(&result, instrument).ok_or_else(|| ExchangeError::Rejected {
            code: ReasonCode::QuoteConversionUnavailable,
            message: format!("no last price for {instrument}"),
            snippet: format!("public/get-tickers: no price for {instrument}"),
        })
    }

    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError> {
        UsdTickers::usd_price(self, currency).await
    }
}

/// A public GET: the `result` of a `code: 0` answer, else why not.
async fn public_get(
    http: &reqwest::Client,
    base_url: &str,
    method: &str,
    query: &[(&str, &str)],
) -> Result<Value, ExchangeError> {
    let url = format!("{}/{method}", base_url.trim_end_matches('/'));
    let resp = http
        .get(url)
        .query(query)
        .send()
        .await
        .map_err(|e| not_sent(format!("{method}: {}", redact(&e)), e))?;
    let status = resp.status().as_u16();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| not_sent(format!("{method}: HTTP {status}, unreadable body: {}", redact(&e)), e))?;
    match parse_code(&body) {
        Some(0) => Ok(body.get("result").cloned().unwrap_or(Value::Null)),
        code => Err(ExchangeError::not_sent(format!(
            "{method}: HTTP {status} code {code:?}"
        ))),
    }
}

/// A private call's answer, body first.
pub struct Reply {
    pub http: u16,
    pub code: Option<i64>,
    pub message: String,
    pub result: Value,
}

impl Reply {
    /// Any body: JSON or not, with or without `code`, `message`, `result` (fuzzed: `fuzz_targets/exchange_replies.rs`).
    pub fn parse(http: u16, text: &str) -> Reply {
        let parsed: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        Reply {
            http,
            code: parse_code(&parsed),
            message: parsed
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| truncate(text, 200), str::to_string),
            result: parsed.get("result").cloned().unwrap_or(Value::Null),
        }
    }

    fn snippet(&self) -> String {
        let code = self.code.map_or("none".to_string(), |c| c.to_string());
        truncate(&format!("HTTP {} code={code} message={}", self.http, self.message), 500)
    }
}

fn not_sent(reason: String, e: reqwest::Error) -> ExchangeError {
    ExchangeError::NotSent {
        reason,
        cause: Some(Cause::new(e)),
    }
}

fn unknown(reason: String, e: reqwest::Error) -> ExchangeError {
    ExchangeError::Unknown {
        reason,
        cause: Some(Cause::new(e)),
    }
}

impl CryptoCom {
    pub fn new(settings: CryptoComSettings, creds: Credentials) -> Result<Self, ClientError> {
        let http = http::client(settings.timeout)?;
        let tickers = UsdTickers::with_client(http.clone(), &settings.base_url);
        let orders = RateLimiter::new(settings.order_budget, Pace::Burst);
        Ok(Self {
            http,
            settings,
            creds,
            next_id: AtomicU64::new(1),
            instruments: tokio::sync::OnceCell::new(),
            min_notional_usd: tokio::sync::OnceCell::new(),
            tickers,
            orders,
        })
    }

    fn url(&self, method: &str) -> String {
        format!("{}/{method}", self.settings.base_url.trim_end_matches('/'))
    }

    async fn public(&self, method: &str) -> Result<Value, ExchangeError> {
        public_get(&self.http, &self.settings.base_url, method, &[]).await
    }

    async fn instrument(&self, symbol: &str) -> Result<Option<Instrument>, ExchangeError> {
        let all = self
            .instruments
            .get_or_try_init(|| async {
                let result = self.public("public/get-instruments").await?;
                Ok::<_, ExchangeError>(parse_instruments(&result))
            })
            .await?;
        Ok(all.get(symbol).cloned())
    }

    async fn min_notional(&self, base_ccy: &str) -> Result<Option<Decimal>, ExchangeError> {
        let all = self
            .min_notional_usd
            .get_or_try_init(|| async {
                let result = self.public("public/get-risk-parameters").await?;
                Ok::<_, ExchangeError>(parse_min_notionals(&result))
            })
            .await?;
        Ok(all.get(base_ccy).copied())
    }

    /// A private call; a call that did not come back is `NotSent` (nothing reached the exchange) or `Unknown` (it
    /// may have).
    async fn private(&self, method: &str, params: Value) -> Result<Reply, ExchangeError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let nonce = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let api_key = self.creds.api_key.expose();
        let sig = sign(self.creds.api_secret.expose(), method, id, api_key, &params, nonce);
        let body =
            json!({ "id": id, "method": method, "api_key": api_key, "params": params, "nonce": nonce, "sig": sig });
        let resp = match self.http.post(self.url(method)).json(&body).send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                let reason = format!("{method}: connection failed: {}", redact(&e));
                return Err(not_sent(reason, e));
            }
            Err(e) => return Err(unknown(format!("{method}: {}", redact(&e)), e)),
        };
        let http = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| unknown(format!("{method}: HTTP {http}, body lost: {}", redact(&e)), e))?;
        Ok(Reply::parse(http, &text))
    }

    /// Runs a private call, retrying while it is rate limited (the request was dropped, so a retry is safe).
    async fn private_with_backoff(&self, method: &str, params: &Value) -> Result<Reply, ExchangeError> {
        let mut attempt = 0;
        loop {
            if method == "private/create-order" {
                self.orders.acquire().await;
            }
            let reply = self.private(method, params.clone()).await?;
            let limited = reply.code.map(code_class) == Some(CodeClass::RateLimited)
                || (reply.code.is_none() && reply.http == 429);
            if !limited || attempt == self.settings.rate_limit_retries {
                return Ok(reply);
            }
            // create-order's limit is per 100 ms: its window is pause enough the first time.
            let first = if method == "private/create-order" {
                self.settings.order_budget.window.min(self.settings.backoff)
            } else {
                self.settings.backoff
            };
            let pause = first
                .checked_mul(2u32.saturating_pow(attempt))
                .unwrap_or(Duration::from_secs(10));
            tracing::warn!(
                method,
                attempt,
                pause_ms = pause.as_millis() as u64,
                "rate limited by the exchange; backing off"
            );
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    fn params(&self, req: &OrderRequest, inst: &Instrument) -> Result<Value, ExchangeError> {
        let mut params = json!({
            "instrument_name": req.symbol.as_str(),
            "side": req.side.as_str(),
            "type": "MARKET",
            "client_oid": req.client_oid.as_str(),
        });
        let shape = |what: &str| ExchangeError::Rejected {
            code: ReasonCode::InvalidTradeAmount,
            message: format!("a MARKET {} needs its {what}", req.side),
            snippet: format!("pre-check: no {what}"),
        };
        match req.side {
            Side::Buy => {
                let n = req.notional.as_ref().ok_or_else(|| shape("notional"))?.amount;
                // The instrument's quote decimals when known; else the original's 2 (≥ 1) or 4 decimals.
                let dp = inst.quote_decimals.unwrap_or(if n >= Decimal::ONE { 2 } else { 4 });
                let truncated = n.round_dp_with_strategy(dp, RoundingStrategy::ToZero);
                if truncated <= Decimal::ZERO {
                    return Err(ExchangeError::Rejected {
                        code: ReasonCode::BelowMinOrderSize,
                        message: format!("notional {n} rounds down to 0 at {dp} decimals"),
                        snippet: format!("pre-check: notional {n} at {dp} decimals"),
                    });
                }
                params["notional"] = json!(format!("{truncated:.prec$}", prec = dp as usize));
            }
            Side::Sell => {
                let q = req.quantity.ok_or_else(|| shape("quantity"))?;
                let rounded = round_down_to_tick(q, inst.qty_tick)
                    .map_err(|e| ExchangeError::Rejected {
                        code: ReasonCode::InvalidTradeAmount,
                        message: e.to_string(),
                        snippet: format!("pre-check: qty_tick_size {}", inst.qty_tick),
                    })?
                    .0;
                let q = q.0;
                if rounded <= Decimal::ZERO {
                    return Err(ExchangeError::Rejected {
                        code: ReasonCode::BelowMinOrderSize,
                        message: format!("quantity {q} rounds down to 0 at qty_tick_size {}", inst.qty_tick),
                        snippet: format!("pre-check: qty_tick_size {}", inst.qty_tick),
                    });
                }
                params["quantity"] = json!(rounded.to_string());
            }
        }
        Ok(params)
    }
}

#[async_trait]
impl Exchange for CryptoCom {
    async fn usd_price(&self, currency: &str) -> Result<UsdPrice, ExchangeError> {
        self.tickers.usd_price(currency).await
    }

    async fn place_order(&self, req: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let symbol = req.symbol.as_str();
        let inst = self.instrument(symbol).await?.ok_or_else(|| ExchangeError::Rejected {
            code: ReasonCode::ExchangeRejected,
            message: format!("{symbol} is not an instrument of the exchange"),
            snippet: format!("pre-check: {symbol} not in public/get-instruments"),
        })?;
        let value = req.usd_value;
        if let Some(min) = self.min_notional(&inst.base_ccy).await? {
            if value.0 < min {
                return Err(ExchangeError::Rejected {
                    code: ReasonCode::MinNotionalNotMet,
                    message: format!(
                        "order value {value} is below the minimum {min} USD for {}",
                        inst.base_ccy
                    ),
                    snippet: format!("pre-check: min_order_notional_usd {min}"),
                });
            }
        }
        let params = self.params(req, &inst)?;
        let reply = self.private_with_backoff("private/create-order", &params).await?;
        match create_order_outcome(&reply) {
            CreateOutcome::Accepted { order_id } => Ok(OrderAck {
                order_id,
                client_oid: req.client_oid.clone(),
            }),
            CreateOutcome::Duplicate => match self.find_order(&req.client_oid).await? {
                Lookup::Placed(ack) => Ok(ack),
                Lookup::Rejected { code, message, snippet } => Err(ExchangeError::Rejected { code, message, snippet }),
                Lookup::NotFound => Err(ExchangeError::unknown(format!(
                    "duplicate client_oid but no order: {}",
                    reply.snippet()
                ))),
            },
            CreateOutcome::Failed(e) => Err(e),
        }
    }

    async fn find_order(&self, client_oid: &ClientOid) -> Result<Lookup, ExchangeError> {
        order_detail(&self.detail(client_oid).await?, client_oid)
    }

    async fn order_detail(&self, order: &PlacedOrder) -> Result<Option<Reported>, ExchangeError> {
        order_report(&self.detail(&order.client_oid).await?)
    }

    /// `private/advanced/create-oco` (docs/DESIGN.md §14): a take-profit LIMIT leg at the take-profit price and a
    /// STOP_LIMIT leg whose trigger (`ref_price`) and limit are the stop, both GOOD_TILL_CANCEL SELLs of the
    /// protected quantity, each with its client_oid. Prices on the instrument's `price_tick_size` in the safe
    /// direction (the stop up, the take-profit down), the quantity down to `qty_tick_size`. The answer holds the
    /// list id only; a DUPLICATE_CLORDID means the legs exist (a resend after a lost answer): looked up, not placed.
    async fn create_oco(&self, oco: &Oco) -> Result<OcoAck, ExchangeError> {
        let symbol = oco.symbol.as_str();
        let inst = self.instrument(symbol).await?.ok_or_else(|| ExchangeError::Rejected {
            code: ReasonCode::ExchangeRejected,
            message: format!("{symbol} is not an instrument of the exchange"),
            snippet: format!("pre-check: {symbol} not in public/get-instruments"),
        })?;
        let (ack, params) = oco_params(oco, &inst)?;
        let reply = self
            .private_with_backoff("private/advanced/create-oco", &params)
            .await?;
        match create_order_outcome(&reply) {
            CreateOutcome::Accepted { .. } => Ok(OcoAck {
                list_id: text(&reply.result, "list_id").unwrap_or_default(),
                ..ack
            }),
            CreateOutcome::Duplicate => {
                let legs = self.oco_detail(oco).await?;
                if legs.take_profit.is_some() || legs.stop_loss.is_some() {
                    Ok(OcoAck {
                        list_id: String::new(),
                        ..ack
                    })
                } else {
                    Err(ExchangeError::unknown(format!(
                        "duplicate client_oid but no leg: {}",
                        reply.snippet()
                    )))
                }
            }
            CreateOutcome::Failed(e) => Err(e),
        }
    }

    /// Each leg by its client_oid through `private/advanced/get-order-detail` (40401: that leg is unknown).
    async fn oco_detail(&self, oco: &Oco) -> Result<OcoReport, ExchangeError> {
        let method = "private/advanced/get-order-detail";
        let mut legs = [None, None];
        for (slot, oid) in legs.iter_mut().zip([&oco.take_profit_oid, &oco.stop_loss_oid]) {
            let params = json!({ "client_oid": oid.as_str() });
            let reply = match self.private_with_backoff(method, &params).await {
                Err(ExchangeError::NotSent { reason, cause }) => Err(ExchangeError::Unknown { reason, cause }),
                other => other,
            }?;
            *slot = order_report(&reply)?;
        }
        let [take_profit, stop_loss] = legs;
        Ok(OcoReport { take_profit, stop_loss })
    }

    /// `private/advanced/cancel-order` by the leg's client_oid. Asynchronous (code 0 = queued); a leg no longer
    /// active (212 INVALID_ORDERID, 316 NO_ACTIVE_ORDER, 40401) is not an error: reading it says what it became.
    async fn cancel_leg(&self, oco: &Oco, leg: Leg) -> Result<(), ExchangeError> {
        let Some(oid) = oco.oid(leg) else {
            return Ok(());
        };
        let params = json!({ "client_oid": oid.as_str() });
        let reply = self
            .private_with_backoff("private/advanced/cancel-order", &params)
            .await?;
        cancel_outcome(&reply)
    }

    /// `private/get-open-orders` for every instrument (no pagination: every open order in one answer).
    /// The plain listing and the advanced one (trigger and OCO legs are not in the plain one since the Advanced
    /// Order API took them, 2025-12-17); an order in both is listed once. Either refused: an error.
    async fn open_orders(&self) -> Result<Vec<OpenOrder>, ExchangeError> {
        let mut orders = Vec::new();
        for method in ["private/get-open-orders", "private/advanced/get-open-orders"] {
            let reply = self.private_with_backoff(method, &json!({})).await?;
            for order in open_orders(&reply)? {
                if order.order_id.is_empty() || !orders.iter().any(|o: &OpenOrder| o.order_id == order.order_id) {
                    orders.push(order);
                }
            }
        }
        Ok(orders)
    }
}

/// What a cancel answer means: queued, or the order is no longer active (not an error; its detail says what it
/// became); anything else is an error (fuzzed with the other answers).
pub fn cancel_outcome(reply: &Reply) -> Result<(), ExchangeError> {
    match reply.code {
        Some(0) | Some(212) | Some(316) | Some(40401) => Ok(()),
        _ => Err(ExchangeError::unknown(format!("cancel-order: {}", reply.snippet()))),
    }
}

/// The create-oco request for an OCO on an instrument, and what it sends (prices and quantity as rounded).
pub fn oco_params(oco: &Oco, inst: &Instrument) -> Result<(OcoAck, Value), ExchangeError> {
    let price_tick = inst.price_tick.unwrap_or(Decimal::new(1, 8));
    let on_tick = |p: Decimal, strategy| {
        p.checked_div(price_tick)
            .map(|steps| steps.round_dp_with_strategy(0, strategy))
            .and_then(|steps| steps.checked_mul(price_tick))
            .map(|p| p.normalize())
    };
    let refused = |message: String| ExchangeError::Rejected {
        code: ReasonCode::ExchangeRejected,
        snippet: truncate(&format!("pre-check: {message}"), 500),
        message,
    };
    let stop = on_tick(oco.stop_price, RoundingStrategy::ToPositiveInfinity);
    let tp = on_tick(oco.take_profit_price, RoundingStrategy::ToNegativeInfinity);
    let quantity = round_down_to_tick(crate::money::Quantity(oco.quantity), inst.qty_tick)
        .ok()
        .map(|q| q.0);
    let (Some(stop), Some(tp), Some(quantity)) = (stop, tp, quantity) else {
        return Err(refused(format!("OCO numbers out of range for {}", oco.symbol)));
    };
    if quantity <= Decimal::ZERO {
        return Err(ExchangeError::Rejected {
            code: ReasonCode::BelowMinOrderSize,
            message: format!(
                "quantity {} rounds down to 0 at qty_tick_size {}",
                oco.quantity, inst.qty_tick
            ),
            snippet: format!("pre-check: qty_tick_size {}", inst.qty_tick),
        });
    }
    if stop <= Decimal::ZERO || stop >= tp {
        return Err(refused(format!(
            "OCO refused before sending: quantity {quantity}, stop {stop}, take-profit {tp} (ticks {} / {price_tick})",
            inst.qty_tick
        )));
    }
    let leg = |oid: &ClientOid, kind: &str, extra: Value| {
        let mut v = json!({
            "instrument_name": oco.symbol.as_str(), "side": "SELL", "type": kind,
            "quantity": quantity.to_string(), "client_oid": oid.as_str(), "time_in_force": "GOOD_TILL_CANCEL",
        });
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    };
    let params = json!({ "order_list": [
        leg(&oco.take_profit_oid, "LIMIT", json!({ "price": tp.to_string() })),
        leg(&oco.stop_loss_oid, "STOP_LIMIT", json!({ "price": stop.to_string(), "ref_price": stop.to_string(),
            "ref_price_type": "MARK_PRICE" })),
    ]});
    let ack = OcoAck {
        list_id: String::new(),
        quantity,
        stop_price: stop,
        take_profit_price: tp,
    };
    Ok((ack, params))
}

/// A get-open-orders answer as the open orders (`result.data[]`: `client_oid`, `order_id`, `instrument_name`,
/// `side`); anything but a success is an error, an entry without a client_oid has an empty one (fuzzed).
pub fn open_orders(reply: &Reply) -> Result<Vec<OpenOrder>, ExchangeError> {
    if reply.code != Some(0) {
        return Err(ExchangeError::unknown(format!("open orders: {}", reply.snippet())));
    }
    Ok(reply
        .result
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| OpenOrder {
            client_oid: text(o, "client_oid").unwrap_or_default(),
            order_id: text(o, "order_id").unwrap_or_default(),
            symbol: text(o, "instrument_name").unwrap_or_default(),
            side: text(o, "side").unwrap_or_default(),
        })
        .collect())
}

impl CryptoCom {
    /// `private/get-order-detail` by client_oid. A lookup that did not come back leaves the order's fate unknown,
    /// whichever way it failed.
    async fn detail(&self, client_oid: &ClientOid) -> Result<Reply, ExchangeError> {
        let params = json!({ "client_oid": client_oid.as_str() });
        match self.private_with_backoff("private/get-order-detail", &params).await {
            Err(ExchangeError::NotSent { reason, cause }) => Err(ExchangeError::Unknown { reason, cause }),
            other => other,
        }
    }
}

/// A get-order-detail answer as the order's fill report: `status`, `cumulative_quantity`, `avg_price`,
/// `cumulative_fee`, `fee_instrument_name` (numbers as strings or numbers; an absent one is 0, as before any fill).
/// Ok(None): the exchange does not know the order. An unknown status or an unreadable number is an error, never a
/// guess (fuzzed).
pub fn order_report(reply: &Reply) -> Result<Option<Reported>, ExchangeError> {
    match reply.code {
        Some(0) => {}
        Some(40401) | Some(212) | Some(316) => return Ok(None),
        _ => return Err(ExchangeError::unknown(format!("get-order-detail: {}", reply.snippet()))),
    }
    let r = &reply.result;
    let bad = |what: &str| ExchangeError::unknown(format!("get-order-detail: {what}: {}", reply.snippet()));
    let status = text(r, "status")
        .and_then(|st| OrderStatus::parse(&st))
        .ok_or_else(|| bad("status"))?;
    let number = |key: &str| match text(r, key) {
        None => Ok(Decimal::ZERO),
        Some(v) if v.is_empty() => Ok(Decimal::ZERO),
        Some(v) => v
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(&v))
            .map_err(|_| bad(key)),
    };
    Ok(Some(Reported {
        status,
        filled_quantity: number("cumulative_quantity")?,
        average_price: number("avg_price")?,
        fee: number("cumulative_fee")?,
        fee_currency: text(r, "fee_instrument_name").unwrap_or_default(),
    }))
}

/// What a create-order answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Accepted {
        order_id: String,
    },
    /// An order with this client_oid exists already: look it up.
    Duplicate,
    /// Refused (definitive), or an outcome that is not known (the order may exist).
    Failed(ExchangeError),
}

fn rate_limited(reply: &Reply) -> ExchangeError {
    ExchangeError::not_sent(format!("rate limited after the retries: {}", reply.snippet()))
}

/// A create-order answer (any HTTP status, any body) classified: accepted, duplicate, refused with a reason code,
/// rate limited, or unknown — a 5xx, a timeout status, or a 2xx that is not a success is never taken for a refusal
/// (fuzzed).
pub fn create_order_outcome(reply: &Reply) -> CreateOutcome {
    let failed = CreateOutcome::Failed;
    match reply.code.map(code_class) {
        Some(CodeClass::Success) => CreateOutcome::Accepted {
            order_id: text(&reply.result, "order_id").unwrap_or_default(),
        },
        Some(CodeClass::DuplicateClientOid) => CreateOutcome::Duplicate,
        // Dropped by the gateway, never an order: not sent, and the delivery is tried again later (never an ORDER
        // FAILED, never a second order — the retry reuses the client_oid).
        Some(CodeClass::RateLimited) => failed(rate_limited(reply)),
        Some(CodeClass::Ambiguous) => failed(ExchangeError::unknown(reply.snippet())),
        Some(CodeClass::Refused(ReasonCode::ExchangeErrorUnknown)) | Some(CodeClass::NotFound) => {
            failed(rejected(classify_text(&reply.message), reply))
        }
        Some(CodeClass::Refused(code)) => failed(rejected(code, reply)),
        None if reply.http == 429 => failed(rate_limited(reply)),
        None if reply.http >= 500 || reply.http == 408 || reply.http < 300 => {
            failed(ExchangeError::unknown(reply.snippet()))
        }
        None => failed(rejected(classify_text(&reply.message), reply)),
    }
}

/// A get-order-detail answer as a lookup: placed (open, filled, or canceled after a fill), rejected (or ended
/// unfilled), not found; anything else is an unknown outcome (fuzzed).
pub fn order_detail(reply: &Reply, client_oid: &ClientOid) -> Result<Lookup, ExchangeError> {
    match reply.code {
        Some(0) => {
            let r = &reply.result;
            let status = text(r, "status").unwrap_or_default();
            let filled = text(r, "cumulative_quantity")
                .and_then(|q| q.parse::<Decimal>().ok())
                .unwrap_or_default();
            let ack = OrderAck {
                order_id: text(r, "order_id").unwrap_or_default(),
                client_oid: client_oid.clone(),
            };
            let unfilled_end = matches!(status.as_str(), "CANCELED" | "EXPIRED") && filled.is_zero();
            if status == "REJECTED" || unfilled_end {
                let reason = text(r, "reason").and_then(|x| x.parse::<i64>().ok());
                let code = match reason.map(code_class) {
                    Some(CodeClass::Refused(c)) if c != ReasonCode::ExchangeErrorUnknown => c,
                    _ => ReasonCode::ExchangeRejected,
                };
                let reason_text = reason.map_or("none".to_string(), |x| x.to_string());
                return Ok(Lookup::Rejected {
                    code,
                    message: format!("order {} ended {status} unfilled (reason {reason_text})", ack.order_id),
                    snippet: truncate(&format!("status={status} reason={reason_text}"), 500),
                });
            }
            Ok(Lookup::Placed(ack))
        }
        Some(40401) | Some(212) | Some(316) => Ok(Lookup::NotFound),
        _ => Err(ExchangeError::unknown(format!("get-order-detail: {}", reply.snippet()))),
    }
}

/// The last price of `instrument` in a get-tickers answer, when positive (fuzzed).
pub fn ticker_last_price(result: &Value, instrument: &str) -> Option<Decimal> {
    result
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|t| text(t, "i").as_deref() == Some(instrument))
        .and_then(|t| text(t, "a"))
        .and_then(|a| a.parse::<Decimal>().ok())
        .filter(|a| *a > Decimal::ZERO)
}

/// The instruments of a get-instruments answer, by symbol; unusable entries are skipped (fuzzed).
pub fn parse_instruments(result: &Value) -> HashMap<String, Instrument> {
    let mut map = HashMap::new();
    for item in result.get("data").and_then(Value::as_array).into_iter().flatten() {
        let (Some(sym), Some(tick)) = (text(item, "symbol"), text(item, "qty_tick_size")) else {
            continue;
        };
        let Ok(qty_tick) = tick.parse::<Decimal>() else {
            continue;
        };
        let base_ccy = text(item, "base_ccy").unwrap_or_default();
        let quote_decimals = text(item, "quote_decimals")
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|d| *d <= 18);
        let price_tick = text(item, "price_tick_size")
            .and_then(|t| t.parse::<Decimal>().ok())
            .filter(|t| *t > Decimal::ZERO);
        map.insert(
            sym,
            Instrument {
                qty_tick,
                price_tick,
                base_ccy,
                quote_decimals,
            },
        );
    }
    map
}

/// The USD minimum order value per base currency of a get-risk-parameters answer (fuzzed).
pub fn parse_min_notionals(result: &Value) -> HashMap<String, Decimal> {
    let mut map = HashMap::new();
    for item in result
        .get("base_currency_config")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ccy = ["instrument_name", "base_ccy", "currency"]
            .iter()
            .find_map(|k| text(item, k));
        let min = text(item, "min_order_notional_usd").and_then(|m| m.parse::<Decimal>().ok());
        if let (Some(ccy), Some(min)) = (ccy, min) {
            map.insert(ccy, min);
        }
    }
    map
}

fn rejected(code: ReasonCode, reply: &Reply) -> ExchangeError {
    ExchangeError::Rejected {
        code,
        message: reply.message.clone(),
        snippet: reply.snippet(),
    }
}

/// `code` as a number or a numeric string.
fn parse_code(body: &Value) -> Option<i64> {
    match body.get("code")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A field as text whether the exchange sent a string or a number.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Transport errors without the URL's query (there is none with secrets, but keep error text minimal).
fn redact(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    let mut shown = e.to_string();
    if let Some(url) = e.url() {
        shown = shown.replace(url.as_str(), "");
    }
    format!("{kind} error: {shown}")
}
