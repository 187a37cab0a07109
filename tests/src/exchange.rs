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
use tokio::net::TcpListener;

use crate::http::{serve, HttpRequest, HttpResponse};

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
    /// Cancelled (asked and applied): final, with what filled before.
    canceled: bool,
    /// A cancel asked and not applied yet (the exchange cancels asynchronously).
    cancel_asked: bool,
    /// The other leg of its OCO.
    sibling: Option<String>,
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
    /// create-oco requests still to refuse (308 INVALID_PRICE), and to apply without answering.
    refuse_ocos: usize,
    lose_oco_answers: usize,
    /// create-order requests still to refuse (306 INSUFFICIENT_AVAILABLE_BALANCE).
    refuse_orders: usize,
    /// create-order's rate limit per API key (count per window; None: unlimited) and the admitted arrivals in the
    /// current window: over it, 42901 TOO_MANY_REQUESTS, nothing applied.
    order_limit: Option<(usize, std::time::Duration)>,
    admitted: std::collections::VecDeque<std::time::Instant>,
    /// How long every answer takes (the network and the exchange), applied after the request is handled.
    latency: std::time::Duration,
    /// Cancels take effect at once (else only at [`ExchangeStandIn::settle_cancels`]).
    cancel_at_once: bool,
    lists: usize,
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
            refuse_ocos: 0,
            lose_oco_answers: 0,
            refuse_orders: 0,
            order_limit: None,
            admitted: std::collections::VecDeque::new(),
            latency: std::time::Duration::ZERO,
            cancel_at_once: true,
            lists: 0,
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
            n if n >= self.parts => "FILLED",
            _ if self.canceled => "CANCELED",
            0 => "ACTIVE",
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
        let task = serve(listener, move |req| {
            let (state, mode) = (state.clone(), mode.clone());
            async move { answer(&req, &state, &mode).await }
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
                canceled: false,
                cancel_asked: false,
                sibling: None,
            };
            s.orders.insert(client_oid.to_string(), order);
        }
    }

    /// create-order admits at most `count` requests per `window` (the exchange's 15 per 100 ms per key); the rest
    /// are answered 42901 TOO_MANY_REQUESTS and counted as `private/create-order rate limited`.
    pub fn limit_orders(&self, count: usize, window: std::time::Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.order_limit = Some((count, window));
        }
    }

    /// Every answer takes `latency` more (after the request was handled: the rate limit counts arrivals).
    pub fn set_latency(&self, latency: std::time::Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.latency = latency;
        }
    }

    /// The next `n` create-order requests are refused (306 INSUFFICIENT_AVAILABLE_BALANCE: a definitive refusal).
    pub fn refuse_orders(&self, n: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.refuse_orders = n;
        }
    }

    /// The next `n` create-oco requests are refused (308 INVALID_PRICE: the stop is on the wrong side).
    pub fn refuse_ocos(&self, n: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.refuse_ocos = n;
        }
    }

    /// The next `n` create-oco requests are applied and answered with a 500 (the answer lost).
    pub fn lose_oco_answers(&self, n: usize) {
        if let Ok(mut s) = self.state.lock() {
            s.lose_oco_answers = n;
        }
    }

    /// Cancels wait for [`ExchangeStandIn::settle_cancels`] (off: they take effect at once, the default).
    pub fn cancels_wait(&self, wait: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.cancel_at_once = !wait;
        }
    }

    /// Applies the cancels asked so far: a leg that filled meanwhile stays filled.
    pub fn settle_cancels(&self) {
        if let Ok(mut s) = self.state.lock() {
            for o in s.orders.values_mut().filter(|o| o.cancel_asked) {
                o.cancel_asked = false;
                o.canceled = o.filled_parts < o.parts;
            }
        }
    }

    /// The market reaches an OCO leg: it fills whole at its price, and the exchange cancels its sibling (unless
    /// `sibling_lives`, as if that cancel were late). False when the leg is not open.
    pub fn trigger(&self, client_oid: &str, sibling_lives: bool) -> bool {
        let Ok(mut s) = self.state.lock() else { return false };
        let sibling = match s.orders.get_mut(client_oid) {
            Some(o) if o.filled_parts < o.parts && !o.canceled => {
                o.filled_parts = o.parts;
                o.sibling.clone()
            }
            _ => return false,
        };
        if let (Some(sib), false) = (sibling, sibling_lives) {
            if let Some(o) = s.orders.get_mut(&sib) {
                o.canceled = o.filled_parts < o.parts;
            }
        }
        true
    }

    /// The OCO legs the exchange holds: (client_oid, type, price, quantity, status).
    pub fn legs(&self) -> Vec<(String, String, Decimal, Decimal, &'static str)> {
        self.state
            .lock()
            .map(|s| {
                s.orders
                    .iter()
                    .filter(|(_, o)| o.sibling.is_some())
                    .map(|(oid, o)| (oid.clone(), o.side.clone(), o.price, o.quantity, o.fill(oid).status))
                    .collect()
            })
            .unwrap_or_default()
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

async fn answer(req: &HttpRequest, state: &Mutex<State>, mode: &Mutex<Mode>) -> HttpResponse {
    let hanging = req.path().starts_with("/private/") && mode.lock().map(|m| *m == Mode::Hanging).unwrap_or(false);
    let (status, body, latency) = match state.lock() {
        Ok(mut s) => {
            let (status, body) = handle(&mut s, req);
            (status, body, s.latency)
        }
        Err(_) => (
            500,
            json!({ "code": 500, "message": "stand-in state poisoned" }),
            std::time::Duration::ZERO,
        ),
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if hanging {
        // Applied, never answered: hold the connection until the caller gives up.
        std::future::pending::<()>().await;
    }
    HttpResponse::new(status, body.to_string())
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
            if !admitted(s) {
                count(s, &method, "rate limited");
                return (429, json!({ "code": 42901, "message": "TOO_MANY_REQUESTS" }));
            }
            if s.orders.contains_key(&oid) {
                count(s, &method, "duplicate");
                return (400, json!({ "code": 204, "message": "DUPLICATE_CLORDID" }));
            }
            if s.refuse_orders > 0 {
                s.refuse_orders -= 1;
                count(s, &method, "refused");
                return (400, json!({ "code": 306, "message": "INSUFFICIENT_AVAILABLE_BALANCE" }));
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
                .filter(|(_, o)| o.filled_parts < o.parts && !o.canceled && o.advanced == advanced)
                .map(|(oid, o)| {
                    let fill = o.fill(oid);
                    json!({ "order_id": o.order_id, "client_oid": oid, "instrument_name": o.instrument,
                        "side": o.side, "status": fill.status, "cumulative_quantity": fill.quantity.to_string() })
                })
                .collect();
            ok(json!({ "data": data }))
        }
        "private/advanced/create-oco" => create_oco(s, &params),
        "private/advanced/get-order-detail" => match s.orders.get(&oid) {
            Some(o) if o.advanced => {
                let (order_id, fill) = (o.order_id.clone(), o.fill(&oid));
                count(s, &method, "found");
                ok(detail_json(&order_id, &oid, &fill))
            }
            _ => {
                count(s, &method, "not found");
                (200, json!({ "code": 40401, "message": "NOT_FOUND" }))
            }
        },
        "private/advanced/cancel-order" => {
            let at_once = s.cancel_at_once;
            match s.orders.get_mut(&oid) {
                Some(o) if o.advanced && o.filled_parts < o.parts && !o.canceled => {
                    if at_once {
                        o.canceled = true;
                    } else {
                        o.cancel_asked = true;
                    }
                    let order_id = o.order_id.clone();
                    count(s, &method, "queued");
                    ok(json!({ "order_id": order_id, "client_oid": oid }))
                }
                Some(o) if o.advanced => {
                    count(s, &method, "not active");
                    (500, json!({ "code": 316, "message": "NO_ACTIVE_ORDER" }))
                }
                _ => {
                    count(s, &method, "not found");
                    (500, json!({ "code": 212, "message": "INVALID_ORDERID" }))
                }
            }
        }
        "private/get-order-detail" => match s.orders.get_mut(&oid) {
            Some(o) if o.advanced => {
                count(s, &method, "not found");
                (400, json!({ "code": 40401, "message": "NOT_FOUND" }))
            }
            Some(o) if o.hidden_lookups == 0 => {
                // Each lookup that finds the order fills one more part (a MARKET order fills at once: one part).
                o.filled_parts = (o.filled_parts + 1).min(o.parts);
                let (order_id, fill) = (o.order_id.clone(), o.fill(&oid));
                count(s, &method, "found");
                ok(detail_json(&order_id, &oid, &fill))
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
        canceled: false,
        cancel_asked: false,
        sibling: None,
    })
}

/// Whether one more create-order fits the rate limit now (counted if it does).
fn admitted(s: &mut State) -> bool {
    let Some((limit, window)) = s.order_limit else {
        return true;
    };
    let now = std::time::Instant::now();
    while s.admitted.front().is_some_and(|t| now.duration_since(*t) >= window) {
        s.admitted.pop_front();
    }
    if s.admitted.len() >= limit {
        return false;
    }
    s.admitted.push_back(now);
    true
}

/// The order object of a get-order-detail answer (plain or advanced).
fn detail_json(order_id: &str, oid: &str, fill: &StandInFill) -> Value {
    json!({
        "order_id": order_id, "client_oid": oid, "instrument_name": fill.instrument, "side": fill.side,
        "status": fill.status, "cumulative_quantity": fill.quantity.to_string(),
        "avg_price": if fill.quantity.is_zero() { "0".to_string() } else { fill.price.to_string() },
        "cumulative_fee": fill.fee.to_string(), "fee_instrument_name": fill.fee_currency,
    })
}

/// `private/advanced/create-oco`: exactly two legs, one LIMIT and one STOP_LIMIT (or STOP_LOSS), SELLs of one
/// quantity with their client_oids; a client_oid it holds already is refused with 204 DUPLICATE_CLORDID. Scripted
/// refusals (308) and lost answers (applied, then a 500) come first.
fn create_oco(s: &mut State, params: &Value) -> (u16, Value) {
    let method = "private/advanced/create-oco";
    if s.refuse_ocos > 0 {
        s.refuse_ocos -= 1;
        count(s, method, "refused");
        return (400, json!({ "code": 308, "message": "INVALID_PRICE" }));
    }
    let legs: Vec<&Value> = params["order_list"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let number = |v: &Value, k: &str| v[k].as_str().and_then(|x| x.parse::<Decimal>().ok());
    let types: Vec<String> = legs.iter().map(|l| text(l, "type")).collect();
    let shaped = legs.len() == 2
        && types.iter().any(|t| t == "LIMIT")
        && types.iter().any(|t| t == "STOP_LIMIT" || t == "STOP_LOSS")
        && legs
            .iter()
            .all(|l| text(l, "side") == "SELL" && number(l, "price").is_some() && number(l, "quantity").is_some())
        && params.get("contingency_type").is_none();
    if !shaped {
        count(s, method, "invalid");
        return (400, json!({ "code": 40004, "message": "MISSING_OR_INVALID_ARGUMENT" }));
    }
    let oids: Vec<String> = legs.iter().map(|l| text(l, "client_oid")).collect();
    if oids.iter().any(|o| o.is_empty() || s.orders.contains_key(o)) {
        count(s, method, "duplicate");
        return (400, json!({ "code": 204, "message": "DUPLICATE_CLORDID" }));
    }
    for (i, leg) in legs.iter().enumerate() {
        let order = Order {
            order_id: format!("{}", 9_000_000 + s.orders.len()),
            hidden_lookups: 0,
            instrument: text(leg, "instrument_name"),
            side: "SELL".into(),
            quantity: number(leg, "quantity").unwrap_or_default(),
            price: number(leg, "price").unwrap_or_default(),
            filled_parts: 0,
            parts: 1,
            fee_in_quote: true,
            advanced: true,
            canceled: false,
            cancel_asked: false,
            sibling: Some(oids[1 - i].clone()),
        };
        s.orders.insert(oids[i].clone(), order);
    }
    s.lists += 1;
    if s.lose_oco_answers > 0 {
        s.lose_oco_answers -= 1;
        count(s, method, "applied, answer lost");
        return (500, json!({ "code": 50001, "message": "ERR_INTERNAL" }));
    }
    count(s, method, "accepted");
    (
        200,
        json!({ "id": 1, "method": method, "code": 0, "result": { "list_id": format!("{}", 6_000_000 + s.lists) } }),
    )
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
