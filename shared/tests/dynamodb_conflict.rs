//! The claim's answer to a `TransactionConflict` (a concurrent transaction on the day's counter), through the real
//! SDK against a local HTTP server speaking DynamoDB's JSON protocol: retried — nothing was written — and committed;
//! a conflict that persists is left to a later delivery, never taken for a decision.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use chrono::Utc;
use rust_decimal::Decimal;
use shared::adapters::dynamodb::DynamoStore;
use shared::config::TableNames;
use shared::ids::{Side, Symbol};
use shared::order::{IntentStatus, OrderIntent};
use shared::ports::{Claim, ClaimRequest, IntentStore};
use shared::risk::{CounterDelta, Reservation};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn store(uri: &str) -> DynamoStore {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(uri)
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .build();
    let tables = TableNames {
        signals: "signals".into(),
        intents: "order_intents".into(),
        alerts: "alerts".into(),
        watchlist: "watchlist".into(),
        risk: "risk".into(),
        retention_days: 90,
    };
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), tables)
}

fn conflict() -> ResponseTemplate {
    ResponseTemplate::new(400)
        .insert_header("content-type", "application/x-amz-json-1.0")
        .set_body_string(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, None, None, TransactionConflict]",
                "CancellationReasons":[{"Code":"None"},{"Code":"None"},{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#,
        )
}

fn claim_parts() -> (OrderIntent, shared::signal::SignalMessage, Vec<Reservation>) {
    let now = Utc::now();
    let s = domain::fakes::sent_signal(
        &Symbol::parse("BTC_USDT").unwrap(),
        Side::Sell,
        1_700_000_000_000,
        Decimal::ONE,
        now,
    );
    let intent = domain::fakes::intent(&s, IntentStatus::Pending, now + chrono::Duration::seconds(60), now);
    let reservation = Reservation {
        delta: CounterDelta {
            key: "day#2026-12-02".into(),
            usd: Decimal::from(100),
            orders: 1,
        },
        scope: shared::risk::LimitScope::GlobalDay,
        usd_at_most: Some(Decimal::from(900)),
        orders_under: None,
        max_usd: Some(Decimal::from(1000)),
    };
    (intent, s.to_message(), vec![reservation])
}

/// A claim with the risk guard's items: the control row at version 0, one counter.
fn guarded<'a>(
    intent: &'a OrderIntent,
    msg: &'a shared::signal::SignalMessage,
    reservations: &'a [Reservation],
) -> ClaimRequest<'a> {
    ClaimRequest {
        intent,
        msg,
        control_version: Some(0),
        symbol_limits: None,
        reservations,
        alert: None,
    }
}

#[tokio::test]
async fn a_transaction_conflict_is_retried_and_then_commits() {
    let server = MockServer::start().await;
    let target = || header("x-amz-target", "DynamoDB_20120810.TransactWriteItems");
    Mock::given(method("POST"))
        .and(target())
        .respond_with(conflict())
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(target())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-amz-json-1.0")
                .set_body_string("{}"),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let (intent, msg, reservations) = claim_parts();
    let req = guarded(&intent, &msg, &reservations);
    assert_eq!(store(&server.uri()).claim(req).await.unwrap(), Claim::Created);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        3,
        "two conflicts, then the commit"
    );
}

#[tokio::test]
async fn a_conflict_that_persists_is_an_error_for_a_later_delivery() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(conflict())
        .mount(&server)
        .await;
    let (intent, msg, reservations) = claim_parts();
    let req = guarded(&intent, &msg, &reservations);
    let err = store(&server.uri()).claim(req).await.unwrap_err();
    assert!(err.to_string().contains("TransactWriteItems claim"), "{err}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        4,
        "a few attempts, not forever"
    );
}
