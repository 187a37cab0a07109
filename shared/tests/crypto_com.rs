//! The Crypto.com adapter against a local HTTP server that verifies the signature of every private request (a
//! request with a wrong signature matches no mock and gets a 404, failing the test) and plays the exchange's answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use shared::adapters::crypto_com::signing::sign;
use shared::adapters::crypto_com::{CryptoCom, CryptoComSettings};
use shared::adapters::secrets::{Credentials, SecretString};
use shared::decision::ReasonCode;
use shared::ids::{IdempotencyKey, Side, SignalId, Symbol};
use shared::money::{Quantity, QuoteAmount, Usd};
use shared::ports::{Exchange, ExchangeError, Lookup, OrderRequest, Stores};

const KEY: &str = "test-api-key-7f3a";
const SECRET: &str = "test-api-secret-c91e";

/// Matches a private call to `method_name` whose signature is right and whose params are all strings.
struct Signed(&'static str);

impl Match for Signed {
    fn matches(&self, req: &Request) -> bool {
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return false;
        };
        let (Some(m), Some(id), Some(nonce), Some(sig)) = (
            body["method"].as_str(),
            body["id"].as_u64(),
            body["nonce"].as_u64(),
            body["sig"].as_str(),
        ) else {
            return false;
        };
        let strings = body["params"].as_object().is_some_and(|p| p.values().all(all_strings));
        m == self.0
            && body["api_key"] == KEY
            && strings
            && sign(SECRET, m, id, KEY, &body["params"], nonce) == sig
            && req.url.path().ends_with(self.0)
    }
}

/// Every leaf of a params value is a string (an OCO's `order_list` holds objects of strings).
fn all_strings(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(items) => items.iter().all(all_strings),
        Value::Object(map) => map.values().all(all_strings),
        _ => false,
    }
}

fn reply(http: u16, code: i64, message: &str, result: Value) -> ResponseTemplate {
    ResponseTemplate::new(http)
        .set_body_json(json!({ "id": 1, "method": "m", "code": code, "message": message, "result": result }))
}

async fn server() -> MockServer {
    server_with(
        json!([
            { "symbol": "ETH_USDT", "base_ccy": "ETH", "quote_ccy": "USDT", "qty_tick_size": "0.0001", "quantity_decimals": 4 },
            { "symbol": "BTC_USDT", "base_ccy": "BTC", "quote_ccy": "USDT", "qty_tick_size": "0.00001", "quantity_decimals": 5 }
        ]),
        json!([ { "instrument_name": "ETH", "min_order_notional_usd": "10" } ]),
    )
    .await
}

/// A stand-in serving these instruments and risk parameters (base currency minimums).
async fn server_with(instruments: Value, minimums: Value) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/public/get-instruments"))
        .respond_with(reply(200, 0, "", json!({ "data": instruments })))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/public/get-risk-parameters"))
        .respond_with(reply(200, 0, "", json!({ "base_currency_config": minimums })))
        .mount(&s)
        .await;
    s
}

fn exchange(s: &MockServer, timeout_ms: u64) -> CryptoCom {
    CryptoCom::new(
        CryptoComSettings {
            base_url: s.uri(),
            timeout: Duration::from_millis(timeout_ms),
            rate_limit_retries: 2,
            backoff: Duration::from_millis(10),
            order_budget: shared::adapters::crypto_com::ORDER_BUDGET,
        },
        Credentials {
            api_key: SecretString::new(KEY.into()),
            api_secret: SecretString::new(SECRET.into()),
        },
    )
    .unwrap()
}

fn order(side: Side, amount: i64) -> OrderRequest {
    let sym = Symbol::parse("ETH_USDT").unwrap();
    let key = IdempotencyKey::for_signal(&SignalId::new(&sym, side, 1_700_000_000_000));
    let price = Decimal::new(3000, 0);
    OrderRequest {
        symbol: sym,
        side,
        client_oid: key.client_oid(),
        notional: (side == Side::Buy).then(|| QuoteAmount {
            amount: Decimal::from(amount),
            currency: "USDT".into(),
        }),
        quantity: (side == Side::Sell).then(|| Quantity(Decimal::from(amount) / price)),
        ref_price: price,
        usd_value: Usd(Decimal::from(amount)),
    }
}

async fn create_params(s: &MockServer) -> Vec<Value> {
    s.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("private/create-order"))
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["params"].clone())
        .collect()
}

#[tokio::test]
async fn accepted_market_buy_by_notional_and_sell_by_rounded_quantity() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(Signed("private/create-order"))
        .respond_with(reply(
            200,
            0,
            "",
            json!({ "order_id": "5755600460443882762", "client_oid": "x" }),
        ))
        .expect(2)
        .mount(&s)
        .await;
    let ex = exchange(&s, 2_000);
    let buy = order(Side::Buy, 100);
    let ack = ex.place_order(&buy).await.unwrap();
    assert_eq!(ack.order_id, "5755600460443882762");
    ex.place_order(&order(Side::Sell, 100)).await.unwrap();
    let params = create_params(&s).await;
    assert_eq!(
        params[0],
        json!({ "instrument_name": "ETH_USDT", "side": "BUY", "type": "MARKET", "notional": "100.00", "client_oid": buy.client_oid.as_str() })
    );
    // 100 / 3000 = 0.0333… rounded down to the 0.0001 tick.
    assert_eq!(params[1]["quantity"], "0.0333");
    assert_eq!(params[1]["side"], "SELL");
}

#[tokio::test]
async fn each_refusal_class_is_a_definitive_rejection() {
    let cases: &[(u16, i64, &str, ReasonCode)] = &[
        (
            500,
            306,
            "INSUFFICIENT_AVAILABLE_BALANCE",
            ReasonCode::InsufficientFunds,
        ),
        (401, 40101, "UNAUTHORIZED", ReasonCode::AuthenticationError),
        (400, 40102, "INVALID_NONCE", ReasonCode::SignatureError),
        (500, 415, "BELOW_MIN_ORDER_SIZE", ReasonCode::BelowMinOrderSize),
        (400, 213, "INVALID_ORDERQTY", ReasonCode::ExchangeRejected),
        (200, 43012, "SELF_TRADE_PREVENTION", ReasonCode::ExchangeRejected),
        (400, 77777, "order rejected by risk", ReasonCode::ExchangeRejected),
        (400, 77778, "amount too small", ReasonCode::MinNotionalNotMet),
    ];
    for (http, code, message, expected) in cases {
        let s = server().await;
        Mock::given(method("POST"))
            .and(Signed("private/create-order"))
            .respond_with(reply(*http, *code, message, Value::Null))
            .expect(1)
            .mount(&s)
            .await;
        match exchange(&s, 2_000).place_order(&order(Side::Buy, 100)).await {
            Err(ExchangeError::Rejected { code: got, snippet, .. }) => {
                assert_eq!(got, *expected, "code {code}");
                assert!(
                    snippet.contains(&code.to_string()) && snippet.contains(message),
                    "{snippet}"
                );
            }
            other => panic!("code {code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn rate_limited_then_accepted() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(Signed("private/create-order"))
        .respond_with(reply(429, 42901, "TOO_MANY_REQUESTS", Value::Null))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(Signed("private/create-order"))
        .respond_with(reply(200, 0, "", json!({ "order_id": "42", "client_oid": "x" })))
        .mount(&s)
        .await;
    let ack = exchange(&s, 2_000).place_order(&order(Side::Buy, 100)).await.unwrap();
    assert_eq!(ack.order_id, "42");
    let params = create_params(&s).await;
    assert_eq!(params.len(), 2);
    assert_eq!(
        params[0]["client_oid"], params[1]["client_oid"],
        "the retry reuses the client_oid"
    );
}

#[tokio::test]
async fn rate_limited_until_the_retries_run_out_is_not_sent_never_a_failure() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(Signed("private/create-order"))
        .respond_with(reply(429, 42901, "TOO_MANY_REQUESTS", Value::Null))
        .expect(3)
        .mount(&s)
        .await;
    let r = exchange(&s, 2_000).place_order(&order(Side::Buy, 100)).await;
    assert!(
        matches!(&r, Err(ExchangeError::NotSent { reason, .. }) if reason.contains("42901")),
        "{r:?}"
    );
}

#[tokio::test]
async fn server_errors_are_unknown_outcomes() {
    for (http, body) in [
        (500, json!({ "code": 50001, "message": "ERR_INTERNAL" })),
        (502, json!({})),
        (408, json!({ "code": 40801, "message": "REQUEST_TIMEOUT" })),
    ] {
        let s = server().await;
        Mock::given(method("POST"))
            .and(Signed("private/create-order"))
            .respond_with(ResponseTemplate::new(http).set_body_json(body))
            .mount(&s)
            .await;
        let r = exchange(&s, 2_000).place_order(&order(Side::Buy, 100)).await;
        assert!(matches!(r, Err(ExchangeError::Unknown { .. })), "HTTP {http}: {r:?}");
    }
}

#[tokio::test]
async fn a_timeout_after_acceptance_is_unknown_and_the_lookup_finds_the_order() {
    let s = server().await;
    // The exchange accepts (the order exists) but answers after the client gave up.
    Mock::given(method("POST"))
        .and(Signed("private/create-order"))
        .respond_with(
            reply(200, 0, "", json!({ "order_id": "77", "client_oid": "x" })).set_delay(Duration::from_millis(800)),
        )
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(Signed("private/get-order-detail"))
        .respond_with(reply(
            200,
            0,
            "",
            json!({ "order_id": "77", "client_oid": "x", "status": "FILLED", "cumulative_quantity": "0.0333" }),
        ))
        .mount(&s)
        .await;
    let ex = exchange(&s, 200);
    let req = order(Side::Buy, 100);
    let timed_out = ex.place_order(&req).await.unwrap_err();
    let ExchangeError::Unknown {
        reason,
        cause: Some(cause),
    } = &timed_out
    else {
        panic!("a timeout after sending is an unknown outcome with its transport error kept: {timed_out:?}");
    };
    assert!(reason.contains("timeout"), "{reason}");
    let source = std::error::Error::source(&timed_out).map(|s| s.to_string());
    assert_eq!(source, Some(cause.to_string()), "the transport error is the source");
    let found = ex.find_order(&req.client_oid).await.unwrap();
    assert!(
        matches!(found, Lookup::Placed(ref a) if a.order_id == "77"),
        "{found:?}"
    );
    let lookups = s.received_requests().await.unwrap();
    let detail = lookups
        .iter()
        .find(|r| r.url.path().ends_with("get-order-detail"))
        .unwrap();
    let body: Value = serde_json::from_slice(&detail.body).unwrap();
    assert_eq!(
        body["params"],
        json!({ "client_oid": req.client_oid.as_str() }),
        "looked up by client_oid"
    );
}

#[tokio::test]
async fn a_duplicate_client_oid_is_looked_up_not_failed() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(Signed("private/create-order"))
        .respond_with(reply(400, 204, "DUPLICATE_CLORDID", Value::Null))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(Signed("private/get-order-detail"))
        .respond_with(reply(
            200,
            0,
            "",
            json!({ "order_id": "99", "status": "ACTIVE", "cumulative_quantity": "0" }),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let ack = exchange(&s, 2_000).place_order(&order(Side::Buy, 100)).await.unwrap();
    assert_eq!(ack.order_id, "99");
}

#[tokio::test]
async fn lookups_report_not_found_and_unfilled_rejections() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(Signed("private/get-order-detail"))
        .respond_with(reply(200, 40401, "NOT_FOUND", Value::Null))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(Signed("private/get-order-detail"))
        .respond_with(reply(
            200,
            0,
            "",
            json!({ "order_id": "5", "status": "REJECTED", "reason": "306", "cumulative_quantity": "0" }),
        ))
        .mount(&s)
        .await;
    let ex = exchange(&s, 2_000);
    let oid = order(Side::Buy, 100).client_oid;
    assert_eq!(ex.find_order(&oid).await.unwrap(), Lookup::NotFound);
    assert!(matches!(
        ex.find_order(&oid).await.unwrap(),
        Lookup::Rejected {
            code: ReasonCode::InsufficientFunds,
            ..
        }
    ));
}

/// The order's fill as get-order-detail reports it, shaped as the documented answer (numbers as strings): a
/// partial fill with the fee in the base currency, a fee in a third currency, a cancel after a partial fill, 40401.
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
#[tokio::test]
async fn order_details_become_fill_reports() {
    use shared::order::{OrderStatus, PlacedOrder, Reported};
    let s = server().await;
    let detail = |status: &str, qty: &str, avg: &str, fee: &str, fee_ccy: &str| {
        json!({
            "account_id": "a", "order_id": "6530219599901241", "client_oid": "so1-x", "order_type": "MARKET",
            "time_in_force": "GOOD_TILL_CANCEL", "side": "BUY", "exec_inst": [], "quantity": "0.05",
            "limit_price": "0", "order_value": "100", "maker_fee_rate": "0.00025", "taker_fee_rate": "0.0005",
            "avg_price": avg, "cumulative_quantity": qty, "cumulative_value": "40", "cumulative_fee": fee,
            "status": status, "update_user_id": "u", "order_date": "2026-12-06", "instrument_name": "ETH_USDT",
            "fee_instrument_name": fee_ccy, "reason": 0, "create_time": 1_765_000_000_000_i64,
            "create_time_ns": "1765000000000000000", "update_time": 1_765_000_000_100_i64
        })
    };
    let answers = [
        reply(200, 0, "", detail("ACTIVE", "0.02", "2000.5", "0.00001", "ETH")),
        reply(200, 0, "", detail("FILLED", "0.05", "2000.25", "0.0375", "CRO")),
        reply(200, 0, "", detail("CANCELED", "0.02", "2000.5", "0.02", "USDT")),
        reply(200, 40401, "NOT_FOUND", Value::Null),
        reply(200, 0, "", detail("SOMETHING_NEW", "0", "0", "0", "USDT")),
    ];
    for (i, answer) in answers.into_iter().enumerate() {
        Mock::given(method("POST"))
            .and(Signed("private/get-order-detail"))
            .respond_with(answer)
            .up_to_n_times(1)
            .with_priority(u8::try_from(i + 1).unwrap())
            .mount(&s)
            .await;
    }
    let ex = exchange(&s, 2_000);
    let o = order(Side::Buy, 100);
    let placed = PlacedOrder {
        client_oid: o.client_oid.clone(),
        symbol: o.symbol.clone(),
        side: Side::Buy,
        sizing: None,
    };
    let report = |status, qty: &str, avg: &str, fee: &str, ccy: &str| Reported {
        status,
        filled_quantity: qty.parse().unwrap(),
        average_price: avg.parse().unwrap(),
        fee: fee.parse().unwrap(),
        fee_currency: ccy.into(),
    };
    let partial = ex.order_detail(&placed).await.unwrap();
    assert_eq!(
        partial,
        Some(report(OrderStatus::Active, "0.02", "2000.5", "0.00001", "ETH"))
    );
    let third_ccy = ex.order_detail(&placed).await.unwrap();
    assert_eq!(
        third_ccy,
        Some(report(OrderStatus::Filled, "0.05", "2000.25", "0.0375", "CRO"))
    );
    let canceled = ex.order_detail(&placed).await.unwrap();
    assert_eq!(
        canceled,
        Some(report(OrderStatus::Canceled, "0.02", "2000.5", "0.02", "USDT"))
    );
    assert_eq!(
        ex.order_detail(&placed).await.unwrap(),
        None,
        "40401: the exchange does not know it"
    );
    assert!(
        matches!(ex.order_detail(&placed).await, Err(ExchangeError::Unknown { .. })),
        "a status nobody knows is never guessed"
    );
}

/// The account's open orders as get-open-orders and advanced/get-open-orders list them (`result.data[]`, the order
/// object's fields; an order in both once), and a refusal as an error, never as "no open orders".
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
#[tokio::test]
async fn open_orders_are_listed_and_a_refusal_is_not_an_empty_list() {
    use shared::order::OpenOrder;
    let s = server().await;
    let open = json!({ "data": [
        { "order_id": "19848525", "client_oid": "so1-0123456789abcdef0123456789abcdef", "instrument_name": "ETH_USDT",
          "side": "BUY", "order_type": "LIMIT", "status": "ACTIVE", "quantity": "0.05", "cumulative_quantity": "0" },
        { "order_id": "19848526", "client_oid": "web-1765000000", "instrument_name": "XRP_USDT", "side": "SELL",
          "order_type": "LIMIT", "status": "PARTIALLY_FILLED", "quantity": "10", "cumulative_quantity": "4" }
    ]});
    Mock::given(method("POST"))
        .and(Signed("private/get-open-orders"))
        .respond_with(reply(200, 0, "", open))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(Signed("private/get-open-orders"))
        .respond_with(reply(401, 40101, "AUTHENTICATION_FAILURE", Value::Null))
        .mount(&s)
        .await;
    // The advanced listing: a stop leg (a trigger order, absent from the plain listing), and the plain listing's
    // first order again (listed once).
    let advanced = json!({ "data": [
        { "order_id": "19848527", "client_oid": "so1-fedcba9876543210fedcba9876543210", "instrument_name": "ETH_USDT",
          "side": "SELL", "order_type": "STOP_LIMIT", "status": "NEW", "quantity": "0.05", "ref_price": "1900",
          "list_id": "6498090546073120100", "contingency_type": "OCO" },
        { "order_id": "19848525", "client_oid": "so1-0123456789abcdef0123456789abcdef", "instrument_name": "ETH_USDT",
          "side": "BUY", "order_type": "LIMIT", "status": "ACTIVE", "quantity": "0.05", "cumulative_quantity": "0" }
    ]});
    Mock::given(method("POST"))
        .and(Signed("private/advanced/get-open-orders"))
        .respond_with(reply(200, 0, "", advanced))
        .mount(&s)
        .await;
    let ex = exchange(&s, 2_000);
    let listed = ex.open_orders().await.unwrap();
    assert_eq!(
        listed,
        [
            OpenOrder {
                client_oid: "so1-0123456789abcdef0123456789abcdef".into(),
                order_id: "19848525".into(),
                symbol: "ETH_USDT".into(),
                side: "BUY".into(),
            },
            OpenOrder {
                client_oid: "web-1765000000".into(),
                order_id: "19848526".into(),
                symbol: "XRP_USDT".into(),
                side: "SELL".into(),
            },
            OpenOrder {
                client_oid: "so1-fedcba9876543210fedcba9876543210".into(),
                order_id: "19848527".into(),
                symbol: "ETH_USDT".into(),
                side: "SELL".into(),
            },
        ]
    );
    assert!(
        ex.open_orders().await.is_err(),
        "a refused call is not an empty order book"
    );
}

#[tokio::test]
async fn minimum_notional_is_checked_before_anything_is_sent() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/private/create-order"))
        .respond_with(reply(200, 0, "", json!({})))
        .expect(0)
        .mount(&s)
        .await;
    let r = exchange(&s, 2_000).place_order(&order(Side::Buy, 5)).await;
    assert!(
        matches!(
            r,
            Err(ExchangeError::Rejected {
                code: ReasonCode::MinNotionalNotMet,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn an_unreachable_exchange_means_nothing_was_sent() {
    // A port nothing listens on: the connection never opens.
    let unreachable = CryptoCom::new(
        CryptoComSettings {
            base_url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_millis(500),
            rate_limit_retries: 0,
            backoff: Duration::from_millis(1),
            order_budget: shared::adapters::crypto_com::ORDER_BUDGET,
        },
        Credentials {
            api_key: SecretString::new(KEY.into()),
            api_secret: SecretString::new(SECRET.into()),
        },
    )
    .unwrap();
    let refused = unreachable.place_order(&order(Side::Buy, 100)).await.unwrap_err();
    assert!(
        matches!(&refused, ExchangeError::NotSent { cause: Some(c), .. } if !c.chain().is_empty()),
        "{refused:?}"
    );
}

/// Collects every log line written while the adapter works, through success, refusals and failures.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn neither_the_key_nor_the_secret_reaches_the_logs() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let s = server().await;
            Mock::given(method("POST"))
                .and(Signed("private/create-order"))
                .respond_with(reply(429, 42901, "TOO_MANY_REQUESTS", Value::Null))
                .mount(&s)
                .await;
            let ex = exchange(&s, 2_000);
            let err = ex.place_order(&order(Side::Buy, 100)).await.unwrap_err();
            tracing::error!(error = %err, debug = ?err, "order failed");
            tracing::info!(credentials = ?Credentials {
                api_key: SecretString::new(KEY.into()),
                api_secret: SecretString::new(SECRET.into()),
            }, "wiring");
        })
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("rate limited"), "the logs were captured: {text}");
    assert!(
        !text.contains(KEY) && !text.contains(SECRET),
        "a credential leaked into the logs: {text}"
    );
    let fields: BTreeMap<String, SecretString> = [("api_key".to_string(), SecretString::new(KEY.into()))]
        .into_iter()
        .collect();
    assert!(
        Credentials::from_secret(fields, "exchange").is_err(),
        "a secret without api_secret is refused"
    );
}

/// A sent $100 signal of `symbol`, emitted `now`.
fn live_signal(
    symbol: &str,
    side: Side,
    price: Decimal,
    now: chrono::DateTime<chrono::Utc>,
) -> shared::signal::SignalRecord {
    domain::fakes::sent_signal(&Symbol::parse(symbol).unwrap(), side, 1_700_000_000_000, price, now)
}

/// The orchestrator in live mode over the in-memory store and the adapter under test.
fn live_orchestrator<'a>(
    store: &'a domain::fakes::MemoryStore,
    exchange: &'a CryptoCom,
    clock: &'a domain::fakes::ManualClock,
) -> shared::flow::orchestration::Orchestrator<'a> {
    let settings = shared::flow::orchestration::OrchestratorSettings {
        mode: shared::order::ExecutionMode::Live,
        ..Default::default()
    };
    shared::flow::orchestration::Orchestrator {
        stores: Stores::of(store),
        guard: Box::leak(Box::default()),
        exchange,
        clock,
        settings,
    }
}

/// Live mode end to end through the orchestrator: $100 on a BTC-, an ETH- and a USDT-quoted pair becomes, at the
/// stand-in's ticker prices, a BUY notional in the quote currency and a SELL quantity of the base asset worth $100
/// (within one tick), every private call signed; the intents record the rate and its source.
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
#[tokio::test]
async fn live_orders_are_sized_in_the_quote_currency_at_the_ticker_price() {
    use domain::fakes::{ManualClock, MemoryStore};
    use shared::decision::DecisionType;
    use shared::flow::orchestration::Outcome;
    use shared::ports::SignalStore;
    use wiremock::matchers::query_param;

    let s = server_with(
        json!([
            { "symbol": "ETH_BTC", "base_ccy": "ETH", "quote_ccy": "BTC", "qty_tick_size": "0.0001", "quote_decimals": 6 },
            { "symbol": "XRP_ETH", "base_ccy": "XRP", "quote_ccy": "ETH", "qty_tick_size": "1", "quote_decimals": 8 },
            { "symbol": "XRP_USDT", "base_ccy": "XRP", "quote_ccy": "USDT", "qty_tick_size": "0.1", "quote_decimals": 4 }
        ]),
        json!([]),
    )
    .await;
    for (instrument, last) in [("BTC_USD", "40000"), ("ETH_USD", "2000")] {
        Mock::given(method("GET"))
            .and(path("/public/get-tickers"))
            .and(query_param("instrument_name", instrument))
            .respond_with(reply(200, 0, "", json!({ "data": [ { "i": instrument, "a": last } ] })))
            .mount(&s)
            .await;
    }
    Mock::given(method("POST"))
        .and(Signed("private/create-order"))
        .respond_with(reply(200, 0, "", json!({ "order_id": "42", "client_oid": "x" })))
        .mount(&s)
        .await;

    let now = chrono::Utc::now();
    let clock = ManualClock::new(now, 0);
    let store = MemoryStore::default();
    // The SELLs have coins to sell: what is tested is the sizing, not the position.
    for symbol in ["ETH_BTC", "XRP_ETH", "XRP_USDT"] {
        store.set_held(&Symbol::parse(symbol).unwrap(), Decimal::from(1_000_000));
    }
    let signal = |symbol: &str, side: Side, price: Decimal| live_signal(symbol, side, price, now);
    let signals = [
        signal("ETH_BTC", Side::Buy, Decimal::new(5, 2)),   // 0.05 BTC per ETH
        signal("ETH_BTC", Side::Sell, Decimal::new(5, 2)),  // 0.05 BTC per ETH
        signal("XRP_ETH", Side::Sell, Decimal::new(25, 5)), // 0.00025 ETH per XRP = $0.50
        signal("XRP_USDT", Side::Sell, Decimal::new(5, 1)), // 0.5 USDT per XRP
        signal("XRP_USDT", Side::Buy, Decimal::new(5, 1)),  // 0.5 USDT per XRP
    ];
    let ex = exchange(&s, 2_000);
    let orch = live_orchestrator(&store, &ex, &clock);
    for sig in &signals {
        store.put_new(sig).await.unwrap();
        match orch.process(&sig.to_message()).await.unwrap() {
            Outcome::Decided(d, ..) => assert_eq!(d.decision_type, DecisionType::Executed, "{}", d.reason_message),
            other => panic!("{}: {other:?}", sig.signal_id),
        }
    }
    let sent: Vec<(String, String, Option<String>, Option<String>)> = create_params(&s)
        .await
        .iter()
        .map(|p| {
            (
                p["instrument_name"].as_str().unwrap().to_string(),
                p["side"].as_str().unwrap().to_string(),
                p["notional"].as_str().map(str::to_string),
                p["quantity"].as_str().map(str::to_string),
            )
        })
        .collect();
    let expect = |i: &str, side: &str, notional: Option<&str>, quantity: Option<&str>| {
        (
            i.to_string(),
            side.to_string(),
            notional.map(str::to_string),
            quantity.map(str::to_string),
        )
    };
    assert_eq!(
        sent,
        [
            // $100 / $40,000 per BTC = 0.0025 BTC; 0.0025 BTC / 0.05 = 0.05 ETH.
            expect("ETH_BTC", "BUY", Some("0.002500"), None),
            expect("ETH_BTC", "SELL", None, Some("0.05")),
            // $100 / $2,000 per ETH = 0.05 ETH; / 0.00025 = 200 XRP.
            expect("XRP_ETH", "SELL", None, Some("200")),
            // USDT at par: 100 USDT / 0.5 = 200 XRP; a BUY of 100 USDT.
            expect("XRP_USDT", "SELL", None, Some("200")),
            expect("XRP_USDT", "BUY", Some("100.0000"), None),
        ]
    );
    let mut intents = store.intents();
    intents.sort_by(|a, b| a.symbol.cmp(&b.symbol).then(a.side.as_str().cmp(b.side.as_str())));
    let recorded: Vec<(String, String, String)> = intents
        .iter()
        .map(|i| {
            let z = i.sizing.as_ref().unwrap();
            (
                i.symbol.to_string(),
                z.quote_price.source.clone(),
                z.usd_value.0.normalize().to_string(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [
            (
                "ETH_BTC".into(),
                "crypto_com:public/get-tickers BTC_USD".into(),
                "100".into()
            ),
            (
                "ETH_BTC".into(),
                "crypto_com:public/get-tickers BTC_USD".into(),
                "100".into()
            ),
            (
                "XRP_ETH".into(),
                "crypto_com:public/get-tickers ETH_USD".into(),
                "100".into()
            ),
            ("XRP_USDT".into(), "peg".into(), "100".into()),
            ("XRP_USDT".into(), "peg".into(), "100".into()),
        ]
    );
    // One ticker request per currency: the price is reused within the batch.
    let tickers = s
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("get-tickers"))
        .count();
    assert_eq!(tickers, 2);
}

/// A quote currency the exchange has no USD price for: no order, FAILED with QUOTE_CONVERSION_UNAVAILABLE.
#[tokio::test]
async fn no_usd_price_means_no_order() {
    use domain::fakes::{ManualClock, MemoryStore};
    use shared::flow::orchestration::Outcome;
    use shared::ports::SignalStore;

    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/public/get-tickers"))
        .respond_with(reply(200, 0, "", json!({ "data": [] })))
        .mount(&s)
        .await;
    let now = chrono::Utc::now();
    let clock = ManualClock::new(now, 0);
    let store = MemoryStore::default();
    let sig = live_signal("ETH_CRO", Side::Buy, Decimal::from(20_000), now);
    store.put_new(&sig).await.unwrap();
    let ex = exchange(&s, 2_000);
    let orch = live_orchestrator(&store, &ex, &clock);
    let Outcome::Decided(d, alert, _) = orch.process(&sig.to_message()).await.unwrap() else {
        panic!("not decided");
    };
    assert_eq!(d.reason_code, ReasonCode::QuoteConversionUnavailable);
    assert!(d.reason_message.contains("CRO_USD or CRO_USDT"), "{}", d.reason_message);
    assert!(alert.is_some(), "an ORDER FAILED message goes out");
    assert!(create_params(&s).await.is_empty(), "no order sent");
}

/// Paper trading can size at the same public tickers as live (`PAPER_USD_PRICES=live`): no credentials, no order.
#[tokio::test]
async fn paper_sizes_at_the_live_tickers_when_asked() {
    use shared::adapters::crypto_com::UsdTickers;
    use shared::adapters::paper::{PaperExchange, PaperPrices};
    use wiremock::matchers::query_param;

    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/public/get-tickers"))
        .and(query_param("instrument_name", "BTC_USD"))
        .respond_with(reply(
            200,
            0,
            "",
            json!({ "data": [ { "i": "BTC_USD", "a": "95000.5" } ] }),
        ))
        .mount(&s)
        .await;
    let tickers = UsdTickers::new(&s.uri(), Duration::from_secs(2)).unwrap();
    let paper = PaperExchange::with_prices(Usd(Decimal::ONE), PaperPrices::Live(tickers));
    let btc = paper.usd_price("BTC").await.unwrap();
    assert_eq!(btc.usd_per_unit, Decimal::new(950005, 1));
    assert_eq!(btc.source, "crypto_com:public/get-tickers BTC_USD");
    assert!(create_params(&s).await.is_empty(), "paper never sends an order");
}

/// An ETH_USDT OCO over 0.12345 ETH, stop 2910.004, take-profit 3089.996 (a 3 % band around 3000).
fn protective_oco() -> shared::order::Oco {
    let sym = Symbol::parse("ETH_USDT").unwrap();
    let key = IdempotencyKey::for_signal(&SignalId::new(&sym, Side::Buy, 1_700_000_000_000));
    shared::order::Oco {
        symbol: sym,
        quantity: "0.12345".parse().unwrap(),
        stop_price: "2910.004".parse().unwrap(),
        take_profit_price: "3089.996".parse().unwrap(),
        take_profit_oid: shared::order::Leg::TakeProfit.client_oid(&key),
        stop_loss_oid: shared::order::Leg::StopLoss.client_oid(&key),
        market_ms: 0,
        cancel_ms: None,
    }
}

async fn advanced_server() -> MockServer {
    server_with(
        json!([{ "symbol": "ETH_USDT", "base_ccy": "ETH", "quote_ccy": "USDT", "qty_tick_size": "0.0001",
                 "price_tick_size": "0.01" }]),
        json!([]),
    )
    .await
}

/// `private/advanced/create-oco` as documented: `order_list` of a LIMIT and a STOP_LIMIT SELL, each with its
/// client_oid, no contingency_type; prices on the tick in the safe direction; the answer a list id only.
#[tokio::test]
async fn an_oco_is_sent_on_the_ticks_and_answered_with_its_list_id() {
    let s = advanced_server().await;
    Mock::given(method("POST"))
        .and(Signed("private/advanced/create-oco"))
        .respond_with(reply(200, 0, "", json!({ "list_id": "6498090546073120100" })))
        .expect(1)
        .mount(&s)
        .await;
    let oco = protective_oco();
    let ack = exchange(&s, 2_000).create_oco(&oco).await.unwrap();
    assert_eq!(ack.list_id, "6498090546073120100");
    // The stop up to the 0.01 tick, the take-profit down to it, the quantity down to the 0.0001 step.
    assert_eq!(
        (ack.stop_price, ack.take_profit_price),
        ("2910.01".parse().unwrap(), "3089.99".parse().unwrap())
    );
    assert_eq!(ack.quantity, "0.1234".parse::<Decimal>().unwrap());
    let sent: Vec<Value> = s
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("create-oco"))
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["params"].clone())
        .collect();
    assert_eq!(
        sent[0],
        json!({ "order_list": [
            { "instrument_name": "ETH_USDT", "side": "SELL", "type": "LIMIT", "quantity": "0.1234",
              "price": "3089.99", "client_oid": oco.take_profit_oid.as_str(), "time_in_force": "GOOD_TILL_CANCEL" },
            { "instrument_name": "ETH_USDT", "side": "SELL", "type": "STOP_LIMIT", "quantity": "0.1234",
              "price": "2910.01", "ref_price": "2910.01", "ref_price_type": "MARK_PRICE",
              "client_oid": oco.stop_loss_oid.as_str(), "time_in_force": "GOOD_TILL_CANCEL" }
        ]})
    );
}

#[tokio::test]
async fn a_refused_price_is_a_rejection_and_a_duplicate_is_looked_up() {
    let s = advanced_server().await;
    Mock::given(method("POST"))
        .and(Signed("private/advanced/create-oco"))
        .respond_with(reply(400, 308, "INVALID_PRICE", Value::Null))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(Signed("private/advanced/create-oco"))
        .respond_with(reply(400, 204, "DUPLICATE_CLORDID", Value::Null))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(Signed("private/advanced/get-order-detail"))
        .respond_with(reply(
            200,
            0,
            "",
            json!({ "order_id": "7", "status": "ACTIVE", "cumulative_quantity": "0",
            "list_id": "6498090546073120100", "contingency_type": "OCO" }),
        ))
        .mount(&s)
        .await;
    let ex = exchange(&s, 2_000);
    let refused = ex.create_oco(&protective_oco()).await.unwrap_err();
    assert!(
        matches!(refused, ExchangeError::Rejected { ref message, .. } if message.contains("INVALID_PRICE")),
        "{refused:?}"
    );
    // The legs exist already (a resend after a lost answer): found, nothing new placed.
    let found = ex.create_oco(&protective_oco()).await.unwrap();
    assert_eq!(found.list_id, "");
}

/// Each leg by its client_oid through the advanced order detail: one filled (the take-profit, fee in USDT), the
/// other unknown to the exchange (40401, HTTP 200): None, not an error.
#[tokio::test]
async fn leg_details_are_read_by_client_oid_and_40401_is_an_unknown_leg() {
    let s = advanced_server().await;
    let oco = protective_oco();
    Mock::given(method("POST"))
        .and(Signed("private/advanced/get-order-detail"))
        .and(wiremock::matchers::body_string_contains(oco.take_profit_oid.as_str()))
        .respond_with(reply(
            200,
            0,
            "",
            json!({ "order_id": "8", "client_oid": oco.take_profit_oid.as_str(),
            "status": "FILLED", "cumulative_quantity": "0.1234", "avg_price": "3089.99", "cumulative_fee": "0.38129",
            "fee_instrument_name": "USDT", "list_id": "6498090546073120100", "leg_id": "1" }),
        ))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(Signed("private/advanced/get-order-detail"))
        .and(wiremock::matchers::body_string_contains(oco.stop_loss_oid.as_str()))
        .respond_with(reply(200, 40401, "NOT_FOUND", Value::Null))
        .mount(&s)
        .await;
    let report = exchange(&s, 2_000).oco_detail(&oco).await.unwrap();
    let tp = report.take_profit.unwrap();
    assert_eq!(
        (tp.status, tp.filled_quantity),
        (shared::order::OrderStatus::Filled, "0.1234".parse().unwrap())
    );
    assert_eq!((tp.fee, tp.fee_currency.as_str()), ("0.38129".parse().unwrap(), "USDT"));
    assert_eq!(report.stop_loss, None);
}

/// A cancel is queued (code 0); a leg that is no longer active (316 NO_ACTIVE_ORDER: it filled) is not an error —
/// reading it says what it became; anything else is.
#[tokio::test]
async fn cancelling_an_already_filled_leg_is_not_an_error() {
    let s = advanced_server().await;
    for (code, http) in [(0, 200), (316, 500)] {
        Mock::given(method("POST"))
            .and(Signed("private/advanced/cancel-order"))
            .respond_with(reply(http, code, "", json!({})))
            .up_to_n_times(1)
            .with_priority(if code == 0 { 1 } else { 2 })
            .mount(&s)
            .await;
    }
    Mock::given(method("POST"))
        .and(Signed("private/advanced/cancel-order"))
        .respond_with(reply(500, 50001, "ERR_INTERNAL", Value::Null))
        .with_priority(3)
        .mount(&s)
        .await;
    let (ex, oco) = (exchange(&s, 2_000), protective_oco());
    ex.cancel_leg(&oco, shared::order::Leg::StopLoss).await.unwrap();
    ex.cancel_leg(&oco, shared::order::Leg::StopLoss).await.unwrap();
    assert!(ex.cancel_leg(&oco, shared::order::Leg::StopLoss).await.is_err());
}
