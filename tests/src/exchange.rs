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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

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
}

#[derive(Default)]
struct State {
    orders: HashMap<String, Order>,
    hide_for: usize,
    calls: BTreeMap<String, usize>,
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
            count(s, &method, "accepted");
            let order_id = format!("{}", 7_000_000 + s.orders.len());
            let hidden_lookups = s.hide_for;
            s.orders.insert(
                oid.clone(),
                Order {
                    order_id: order_id.clone(),
                    hidden_lookups,
                },
            );
            ok(json!({ "order_id": order_id, "client_oid": oid }))
        }
        "private/get-order-detail" => match s.orders.get_mut(&oid) {
            Some(o) if o.hidden_lookups == 0 => {
                let order_id = o.order_id.clone();
                count(s, &method, "found");
                ok(json!({ "order_id": order_id, "client_oid": oid, "status": "FILLED", "cumulative_quantity": "1" }))
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
    let right =
        body["api_key"] == API_KEY && shared::signing::sign(API_SECRET, m, id, API_KEY, &body["params"], nonce) == sig;
    right.then(|| body["params"].clone())
}
