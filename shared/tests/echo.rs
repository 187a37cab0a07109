//! The echo exchange (the second adapter behind the `Exchange` port) against a local stand-in that checks the key
//! and the signature of every call and keeps the orders it accepted, so a doubled order would show. Then the plug:
//! `EXCHANGE=echo` with LIVE_TRADING on, built by `adapters::exchange::build` and driven by the orchestrator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{json, Value};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use domain::fakes::{ManualClock, MemoryStore};
use shared::adapters::echo::signing::sign;
use shared::adapters::echo::Echo;
use shared::adapters::secrets::{Credentials, SecretString};
use shared::config::{Pairs, TradingConfig};
use shared::decision::{DecisionType, ReasonCode};
use shared::flow::orchestration::{Orchestrator, OrchestratorSettings, Outcome};
use shared::ids::{IdempotencyKey, Side, SignalId, Symbol};
use shared::money::{QuoteAmount, Usd};
use shared::order::{ExecutionMode, OrderStatus, PlacedOrder};
use shared::ports::{Exchange, ExchangeError, Lookup, OrderRequest, SignalStore, Stores};

const KEY: &str = "echo-key-4b1d";
const SECRET: &str = "echo-secret-90ae";

/// What the stand-in answers `order` with, beside recording it.
#[derive(Clone, Copy, PartialEq)]
enum OrderAnswer {
    Accept,
    /// Records the order, then answers 502: the caller cannot know it was placed.
    AcceptThen502,
    InsufficientFunds,
    /// 429 without recording anything.
    Busy,
}

#[derive(Clone)]
struct Book {
    orders: Arc<Mutex<Vec<Value>>>,
    answer: Arc<Mutex<OrderAnswer>>,
}

fn answer(http: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(http).set_body_json(body)
}

fn refuse(http: u16, code: &str) -> ResponseTemplate {
    answer(
        http,
        json!({ "ok": false, "code": code, "message": code.to_lowercase() }),
    )
}

impl Respond for Book {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let method = req.url.path().trim_start_matches('/');
        let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if header("x-echo-key") != KEY || header("x-echo-signature") != sign(SECRET, method, &req.body) {
            return refuse(401, "BAD_SIGNATURE");
        }
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return refuse(400, "REFUSED");
        };
        let p = &body["params"];
        let mut orders = self.orders.lock().unwrap();
        let find = |oid: &Value| orders.iter().find(|o| o["client_oid"] == *oid).cloned();
        match method {
            "price" => answer(200, json!({ "ok": true, "result": { "usd": "2000" } })),
            "order-detail" => match find(&p["client_oid"]) {
                Some(o) => answer(200, json!({ "ok": true, "result": o })),
                None => refuse(404, "NOT_FOUND"),
            },
            "open-orders" => answer(200, json!({ "ok": true, "result": [] })),
            "order" if find(&p["client_oid"]).is_some() => refuse(409, "DUPLICATE_CLIENT_OID"),
            "order" => {
                let how = *self.answer.lock().unwrap();
                match how {
                    OrderAnswer::InsufficientFunds => return refuse(400, "INSUFFICIENT_FUNDS"),
                    OrderAnswer::Busy => return ResponseTemplate::new(429),
                    OrderAnswer::Accept | OrderAnswer::AcceptThen502 => {}
                }
                // A market BUY by notional fills at once at 0.05 of the quote per unit, fee 0.1 % of the base.
                let notional: Decimal = p["notional"].as_str().and_then(|n| n.parse().ok()).unwrap_or_default();
                let quantity = notional / Decimal::new(5, 2);
                let order_id = format!("echo-{}", orders.len() + 1);
                orders.push(json!({
                    "client_oid": p["client_oid"], "order_id": order_id, "symbol": p["symbol"], "side": p["side"],
                    "status": "FILLED", "filled_quantity": quantity.to_string(), "average_price": "0.05",
                    "fee": (quantity / Decimal::from(1000)).to_string(), "fee_currency": "ETH",
                }));
                if how == OrderAnswer::AcceptThen502 {
                    return ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>");
                }
                answer(200, json!({ "ok": true, "result": { "order_id": order_id } }))
            }
            _ => refuse(400, "REFUSED"),
        }
    }
}

async fn stand_in() -> (MockServer, Book) {
    let server = MockServer::start().await;
    let book = Book {
        orders: Arc::default(),
        answer: Arc::new(Mutex::new(OrderAnswer::Accept)),
    };
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(book.clone())
        .mount(&server)
        .await;
    (server, book)
}

fn creds(secret: &str) -> Credentials {
    Credentials {
        api_key: SecretString::new(KEY.into()),
        api_secret: SecretString::new(secret.into()),
    }
}

fn echo(server: &MockServer, secret: &str) -> Echo {
    Echo::new(&server.uri(), Duration::from_secs(2), creds(secret)).unwrap()
}

fn buy(n: u32) -> OrderRequest {
    let symbol = Symbol::parse("ETH_BTC").unwrap();
    let key = IdempotencyKey::for_signal(&SignalId::new(&symbol, Side::Buy, 1_700_000_000_000 + i64::from(n)));
    OrderRequest {
        symbol,
        side: Side::Buy,
        client_oid: key.client_oid(),
        notional: Some(QuoteAmount {
            amount: Decimal::new(25, 3),
            currency: "BTC".into(),
        }),
        quantity: None,
        ref_price: Decimal::new(5, 2),
        usd_value: Usd(Decimal::from(100)),
    }
}

fn placed(req: &OrderRequest) -> PlacedOrder {
    PlacedOrder {
        client_oid: req.client_oid.clone(),
        symbol: req.symbol.clone(),
        side: req.side,
        sizing: None,
    }
}

/// An order is placed once, its fill read back; sending it again (a redelivery) finds the same order, and nothing
/// is placed twice.
#[tokio::test]
async fn an_order_is_placed_once_and_its_fill_read_back() {
    let (server, book) = stand_in().await;
    let ex = echo(&server, SECRET);
    let req = buy(1);
    let ack = ex.place_order(&req).await.unwrap();
    assert_eq!(ack.order_id, "echo-1");
    assert_eq!(
        ex.place_order(&req).await.unwrap().order_id,
        "echo-1",
        "a resend finds the order"
    );
    assert_eq!(book.orders.lock().unwrap().len(), 1);

    let fill = ex.order_detail(&placed(&req)).await.unwrap().unwrap();
    assert_eq!(fill.status, OrderStatus::Filled);
    assert_eq!(fill.filled_quantity, Decimal::new(5, 1));
    assert_eq!(fill.fee_currency, "ETH");
    assert_eq!(
        ex.order_detail(&placed(&buy(2))).await.unwrap(),
        None,
        "an unknown order is None"
    );
    assert!(matches!(
        ex.find_order(&buy(2).client_oid).await.unwrap(),
        Lookup::NotFound
    ));
    assert_eq!(ex.usd_price("BTC").await.unwrap().usd_per_unit, Decimal::from(2000));
    assert!(ex.open_orders().await.unwrap().is_empty());
}

/// A wrong secret is refused by the stand-in (AUTHENTICATION_ERROR), a refusal keeps its reason, a 429 was never
/// acted on (NotSent), a 502 after the order was taken is Unknown and the lookup finds it, and a closed port is
/// NotSent.
#[tokio::test]
async fn every_outcome_is_sorted_by_what_it_means_for_the_order() {
    let (server, book) = stand_in().await;
    let refused = echo(&server, "not-the-secret").place_order(&buy(1)).await.unwrap_err();
    assert!(
        matches!(
            refused,
            ExchangeError::Rejected {
                code: ReasonCode::AuthenticationError,
                ..
            }
        ),
        "{refused:?}"
    );
    let ex = echo(&server, SECRET);
    *book.answer.lock().unwrap() = OrderAnswer::InsufficientFunds;
    let poor = ex.place_order(&buy(2)).await.unwrap_err();
    assert!(
        matches!(
            poor,
            ExchangeError::Rejected {
                code: ReasonCode::InsufficientFunds,
                ..
            }
        ),
        "{poor:?}"
    );
    *book.answer.lock().unwrap() = OrderAnswer::Busy;
    assert!(matches!(
        ex.place_order(&buy(3)).await.unwrap_err(),
        ExchangeError::NotSent { .. }
    ));
    assert!(book.orders.lock().unwrap().is_empty());

    *book.answer.lock().unwrap() = OrderAnswer::AcceptThen502;
    let req = buy(4);
    assert!(matches!(
        ex.place_order(&req).await.unwrap_err(),
        ExchangeError::Unknown { .. }
    ));
    match ex.find_order(&req.client_oid).await.unwrap() {
        Lookup::Placed(ack) => assert_eq!(ack.order_id, "echo-1"),
        other => panic!("the lookup must find the order the 502 hid: {other:?}"),
    }

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nowhere = Echo::new(
        &format!("http://127.0.0.1:{closed}"),
        Duration::from_secs(2),
        creds(SECRET),
    )
    .unwrap();
    assert!(matches!(
        nowhere.place_order(&buy(5)).await.unwrap_err(),
        ExchangeError::NotSent { .. }
    ));
}

/// The plug: `EXCHANGE=echo` with LIVE_TRADING on is read by the configuration, built by `exchange::build` with the
/// secret's credentials, and the orchestrator places a signal's order through it — the same state machine, sizing
/// and decision trace as on Crypto.com.
#[tokio::test]
async fn exchange_echo_is_a_setting_the_orchestrator_trades_through() {
    let (server, book) = stand_in().await;
    let uri = server.uri();
    let config = TradingConfig::from_source(&Pairs::new(&[
        ("LIVE_TRADING", "true"),
        ("EXCHANGE", "echo"),
        ("EXCHANGE_BASE_URL", &uri),
    ]))
    .unwrap();
    let secret: BTreeMap<String, SecretString> = [("api_key", KEY), ("api_secret", SECRET)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), SecretString::new(v.into())))
        .collect();
    let now = chrono::Utc::now();
    let clock = Arc::new(ManualClock::new(now, 0));
    let exchange = shared::adapters::exchange::build(&config, Some(secret), clock.clone()).unwrap();

    let store = MemoryStore::default();
    let symbol = Symbol::parse("ETH_BTC").unwrap();
    let signal = domain::fakes::sent_signal(&symbol, Side::Buy, 1_700_000_000_000, Decimal::new(5, 2), now);
    store.put_new(&signal).await.unwrap();
    let orchestrator = Orchestrator {
        stores: Stores::of(&store),
        guard: &Default::default(),
        exchange: exchange.as_ref(),
        clock: clock.as_ref(),
        settings: OrchestratorSettings {
            mode: ExecutionMode::Live,
            ..Default::default()
        },
    };
    match orchestrator.process(&signal.to_message()).await.unwrap() {
        Outcome::Decided(d, _, intent) => {
            assert_eq!(d.decision_type, DecisionType::Executed, "{d:?}");
            assert_eq!(d.order_id.as_deref(), Some("echo-1"));
            assert_eq!(intent.client_oid, signal.idempotency_key().client_oid());
        }
        other => panic!("the signal must be decided: {other:?}"),
    }
    let orders = book.orders.lock().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["symbol"], "ETH_BTC");
}
