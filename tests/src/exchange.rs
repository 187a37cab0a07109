//! A stateful Crypto.com Exchange stand-in for outage tests, spoken to by the real adapter over HTTP. It checks the
//! signature of every private call, keeps the orders it accepted by `client_oid` (a second create-order with the
//! same `client_oid` is refused with 204 DUPLICATE_CLORDID, as the exchange does), and can be:
//!
//! * [`Mode::Up`]: answers at once;
//! * [`Mode::Refusing`]: not listening at all (connections refused — nothing can have been sent);
//! * [`Mode::Hanging`]: the order gateway applies what it is sent, then never answers (the caller's timeout
//!   decides); public market data still answers.
//!
//! With [`ExchangeStandIn::hide_new_orders`], an accepted order is reported NOT_FOUND to its first N lookups, like
//! an exchange whose order book lags its order entry.
//!
//! Orders fill as a MARKET order does, at the instrument's price ([`ExchangeStandIn::set_price`]), with a 0.1 %
//! fee: a BUY pays it in the base currency it receives, a SELL in the quote currency. With
//! [`ExchangeStandIn::fill_in_parts`] an order fills over several lookups (PARTIALLY_FILLED, then FILLED): each
//! get-order-detail that finds it fills one more part. [`ExchangeStandIn::fills`] is the exchange's truth.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use crate::http::{read_request, write_response, HttpRequest};

pub const API_KEY: &str = "stand-in-api-key";
pub const API_SECRET: &str = "stand-in-api-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    Refusing,
    Hanging,
}

struct Order {
    order_id: String,
    hidden_lookups: usize,
    instrument: String,
    side: String,
    /// The whole order's base quantity and price.
    quantity: Decimal,
    price: Decimal,
    /// Parts filled so far, of `parts`.
    filled_parts: usize,
    parts: usize,
    /// The fee in the quote currency even for a BUY.
    fee_in_quote: bool,
    /// A trigger (advanced) order: listed by `private/advanced/get-open-orders` only.
    advanced: bool,
}

/// What the exchange filled for one order (its truth, for the tests' comparisons).
#[derive(Debug, Clone, PartialEq)]
pub struct StandInFill {
    pub client_oid: String,
    pub instrument: String,
    pub side: String,
    pub quantity: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub fee_currency: String,
    pub status: &'static str,
}

struct State {
    orders: HashMap<String, Order>,
    hide_for: usize,
    parts: usize,
    buy_fee_in_quote: bool,
    prices: HashMap<String, Decimal>,
    calls: BTreeMap<String, usize>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            orders: HashMap::new(),
            hide_for: 0,
            parts: 1,
            buy_fee_in_quote: false,
            prices: HashMap::from([
                ("ETH_USDT".to_string(), Decimal::new(2000, 0)),
                ("XRP_USDT".to_string(), Decimal::new(5, 1)),
            ]),
            calls: BTreeMap::new(),
        }
    }
}

/// The stand-in's fee: 0.1 % of what the order traded.
const FEE_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 3);

impl Order {
    fn fill(&self, oid: &str) -> StandInFill {
        let quantity = if self.filled_parts >= self.parts {
            self.quantity
        } else {
            let share = Decimal::from(self.filled_parts) / Decimal::from(self.parts);
            (self.quantity * share).round_dp_with_strategy(4, rust_decimal::RoundingStrategy::ToZero)
        };
        let (base, quote) = self.instrument.split_once('_').unwrap_or((&self.instrument, ""));
        let (fee, fee_currency) = if self.side == "BUY" && !self.fee_in_quote {
            ((quantity * FEE_RATE).normalize(), base)
        } else {
            ((quantity * self.price * FEE_RATE).normalize(), quote)
        };
        let status = match self.filled_parts {
            0 => "ACTIVE",
            n if n >= self.parts => "FILLED",
            _ => "PARTIALLY_FILLED",
        };
        StandInFill {
            client_oid: oid.to_string(),
            instrument: self.instrument.clone(),
            side: self.side.clone(),
            quantity: quantity.normalize(),
            price: self.price,
            fee,
            fee_currency: fee_currency.to_string(),
            status,
        }
    }
}

pub struct ExchangeStandIn {
    pub url: String,
    port: u16,
    state: Arc<Mutex<State>>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Drop for ExchangeStandIn {
    fn drop(&mut self) {
        if let Ok(mut s) = self.server.lock() {
            if let Some(task) = s.take() {
                task.abort();
            }
        }
    }
}

impl ExchangeStandIn {
    pub async fn start() -> std::io::Result<ExchangeStandIn> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let ex = ExchangeStandIn {
            url: format!("http://127.0.0.1:{port}"),
            port,
            state: Arc::default(),
            server: Mutex::new(None),
            mode: Arc::new(Mutex::new(Mode::Up)),
        };
        ex.serve(listener);
        Ok(ex)
    }

    fn serve(&self, listener: TcpListener) {
        let (state, mode) = (self.state.clone(), self.mode.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, mode) = (state.clone(), mode.clone());
                tokio::spawn(async move {
                    let _ = answer(stream, &state, &mode).await;
                });
            }
        });
        if let Ok(mut s) = self.server.lock() {
            *s = Some(task);
        }
    }

    /// Switches the mode; `Refusing` closes the listening socket, leaving it reopens it on the same port.
    pub async fn set_mode(&self, mode: Mode) -> std::io::Result<()> {
        let listening = self.server.lock().map(|s| s.is_some()).unwrap_or(false);
        if mode == Mode::Refusing {
            if let Ok(mut s) = self.server.lock() {
                if let Some(task) = s.take() {
                    task.abort();
                }
            }
            // Let the aborted task drop its listener before anyone connects again.
            tokio::task::yield_now().await;
        } else if !listening {
            self.serve(TcpListener::bind(("127.0.0.1", self.port)).await?);
        }
        if let Ok(mut m) = self.mode.lock() {
            *m = mode;
        }
        Ok(())
    }

    /// Orders accepted from now on answer NOT_FOUND to their first `lookups` get-order-detail calls.
    pub fn hide_new_orders(&self, lookups: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.hide_for = lookups;
        }
    }

    /// Orders accepted from now on fill in `parts` parts, one more at each lookup that finds them.
    pub fn fill_in_parts(&self, parts: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.parts = parts.max(1);
        }
    }

    /// Orders accepted from now on pay a BUY's fee in the quote currency (as a SELL's), not in the base.
    pub fn charge_buy_fees_in_quote(&self, on: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.buy_fee_in_quote = on;
        }
    }

    /// The price orders of `instrument` fill at from now on.
    pub fn set_price(&self, instrument: &str, price: Decimal) {
        if let Ok(mut s) = self.state.lock() {
            s.prices.insert(instrument.to_string(), price);
        }
    }

    /// An order placed on the exchange outside the system (another tool, a person, a lost process): open, unfilled.
    pub fn place_outside(&self, client_oid: &str, instrument: &str) {
        self.place_open(client_oid, instrument, false);
    }

    /// A trigger order (a stop, a take-profit leg) placed outside the system: the plain open-order listing does not
    /// show it, the advanced one does.
    pub fn place_outside_advanced(&self, client_oid: &str, instrument: &str) {
        self.place_open(client_oid, instrument, true);
    }

    fn place_open(&self, client_oid: &str, instrument: &str, advanced: bool) {
        if let Ok(mut s) = self.state.lock() {
            let order = Order {
                order_id: format!("{}", 8_000_000 + s.orders.len()),
                hidden_lookups: 0,
                instrument: instrument.to_string(),
                side: "BUY".into(),
                quantity: Decimal::ONE,
                price: Decimal::ONE,
                filled_parts: 0,
                parts: usize::MAX,
                fee_in_quote: false,
                advanced,
            };
            s.orders.insert(client_oid.to_string(), order);
        }
    }

    /// What the exchange filled, order by order (its truth).
    pub fn fills(&self) -> Vec<StandInFill> {
        self.state
            .lock()
            .map(|s| s.orders.iter().map(|(oid, o)| o.fill(oid)).collect())
            .unwrap_or_default()
    }

    /// The client_oids of the orders the exchange holds (each at most once, by construction).
    pub fn orders(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.orders.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Calls per method and outcome, e.g. `private/create-order duplicate` → 1.
    pub fn calls(&self) -> BTreeMap<String, usize> {
        self.state.lock().map(|s| s.calls.clone()).unwrap_or_default()
    }
}

async fn answer(mut stream: TcpStream, state: &Mutex<State>, mode: &Mutex<Mode>) -> std::io::Result<()> {
    let Some(req) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let hanging = req.path().starts_with("/private/") && mode.lock().map(|m| *m == Mode::Hanging).unwrap_or(false);
    let (status, body) = match state.lock() {
        Ok(mut s) => handle(&mut s, &req),
        Err(_) => (500, json!({ "code": 500, "message": "stand-in state poisoned" })),
    };
    if hanging {
        // Applied, never answered: hold the connection until the caller gives up.
        std::future::pending::<()>().await;
    }
    write_response(&mut stream, status, body.to_string().as_bytes()).await
}

fn handle(s: &mut State, req: &HttpRequest) -> (u16, Value) {
    let method = req.path().trim_start_matches('/').to_string();
    let ok = |result: Value| (200, json!({ "id": 1, "method": method, "code": 0, "result": result }));
    match method.as_str() {
        "public/get-instruments" => {
            let data: Vec<Value> = [("XRP_USDT", "XRP", "1"), ("ETH_USDT", "ETH", "0.0001")]
                .iter()
                .map(|(sym, base, tick)| {
                    json!({ "symbol": sym, "base_ccy": base, "quote_ccy": "USDT", "qty_tick_size": tick })
                })
                .collect();
            return ok(json!({ "data": data }));
        }
        "public/get-risk-parameters" => return ok(json!({ "base_currency_config": [] })),
        "public/get-tickers" => {
            // The documented ticker fields: `i` instrument, `a` last trade price (as text).
            let data: Vec<Value> = req
                .query()
                .iter()
                .filter(|(k, _)| k == "instrument_name")
                .filter_map(|(_, i)| s.prices.get(i).map(|p| json!({ "i": i, "a": p.to_string() })))
                .collect();
            count(s, &method, "answered");
            return ok(json!({ "data": data }));
        }
        _ => {}
    }
    let Some(params) = signed_params(req) else {
        count(s, &method, "bad signature");
        return (401, json!({ "code": 40101, "message": "AUTHENTICATION_FAILURE" }));
    };
    let oid = params["client_oid"].as_str().unwrap_or_default().to_string();
    match method.as_str() {
        "private/create-order" => {
            if s.orders.contains_key(&oid) {
                count(s, &method, "duplicate");
                return (400, json!({ "code": 204, "message": "DUPLICATE_CLORDID" }));
            }
            let Some(order) = new_order(s, &params) else {
                count(s, &method, "invalid");
                return (400, json!({ "code": 40004, "message": "INVALID_ORDER" }));
            };
            count(s, &method, "accepted");
            let order_id = order.order_id.clone();
            s.orders.insert(oid.clone(), order);
            ok(json!({ "order_id": order_id, "client_oid": oid }))
        }
        "private/get-open-orders" | "private/advanced/get-open-orders" => {
            count(s, &method, "listed");
            let advanced = method.starts_with("private/advanced/");
            let data: Vec<Value> = s
                .orders
                .iter()
                .filter(|(_, o)| o.filled_parts < o.parts && o.advanced == advanced)
                .map(|(oid, o)| {
                    let fill = o.fill(oid);
                    json!({ "order_id": o.order_id, "client_oid": oid, "instrument_name": o.instrument,
                        "side": o.side, "status": fill.status, "cumulative_quantity": fill.quantity.to_string() })
                })
                .collect();
            ok(json!({ "data": data }))
        }
        "private/get-order-detail" => match s.orders.get_mut(&oid) {
            Some(o) if o.hidden_lookups == 0 => {
                // Each lookup that finds the order fills one more part (a MARKET order fills at once: one part).
                o.filled_parts = (o.filled_parts + 1).min(o.parts);
                let (order_id, fill) = (o.order_id.clone(), o.fill(&oid));
                count(s, &method, "found");
                ok(json!({
                    "order_id": order_id, "client_oid": oid, "instrument_name": fill.instrument, "side": fill.side,
                    "order_type": "MARKET", "status": fill.status, "cumulative_quantity": fill.quantity.to_string(),
                    "avg_price": if fill.quantity.is_zero() { "0".to_string() } else { fill.price.to_string() },
                    "cumulative_fee": fill.fee.to_string(), "fee_instrument_name": fill.fee_currency,
                }))
            }
            Some(o) => {
                o.hidden_lookups -= 1;
                count(s, &method, "hidden");
                (400, json!({ "code": 40401, "message": "NOT_FOUND" }))
            }
            None => {
                count(s, &method, "not found");
                (400, json!({ "code": 40401, "message": "NOT_FOUND" }))
            }
        },
        _ => (404, json!({ "code": 40401, "message": "unknown method" })),
    }
}

/// An accepted MARKET order: a BUY's notional buys `notional / price` rounded down to 4 decimals (the ETH tick), a
/// SELL sells its quantity. None: the params do not make an order.
fn new_order(s: &State, params: &Value) -> Option<Order> {
    let instrument = params["instrument_name"].as_str()?.to_string();
    let side = params["side"].as_str()?.to_string();
    let price = *s.prices.get(&instrument)?;
    let number = |k: &str| params[k].as_str().and_then(|v| v.parse::<Decimal>().ok());
    let quantity = match side.as_str() {
        "BUY" => number("notional")?
            .checked_div(price)?
            .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::ToZero),
        _ => number("quantity")?,
    };
    // The caller's numbers: an order whose value or fee would not fit a Decimal is refused here, so that the fill's
    // arithmetic below (shares of these) cannot overflow.
    quantity.checked_mul(price)?.checked_mul(FEE_RATE)?;
    Some(Order {
        order_id: format!("{}", 7_000_000 + s.orders.len()),
        hidden_lookups: s.hide_for,
        instrument,
        side,
        quantity,
        price,
        filled_parts: 0,
        parts: s.parts,
        fee_in_quote: s.buy_fee_in_quote,
        advanced: false,
    })
}

fn count(s: &mut State, method: &str, outcome: &str) {
    *s.calls.entry(format!("{method} {outcome}")).or_default() += 1;
}

/// The params of a private call whose signature is right, None otherwise.
fn signed_params(req: &HttpRequest) -> Option<Value> {
    let body: Value = serde_json::from_slice(&req.body).ok()?;
    let (m, id, nonce, sig) = (
        body["method"].as_str()?,
        body["id"].as_u64()?,
        body["nonce"].as_u64()?,
        body["sig"].as_str()?,
    );
    let right = body["api_key"] == API_KEY
        && shared::adapters::crypto_com::signing::sign(API_SECRET, m, id, API_KEY, &body["params"], nonce) == sig;
    right.then(|| body["params"].clone())
}
