//! The Telegram adapter against a local HTTP server playing the Bot API's `sendMessage`.

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use shared::adapters::secrets::SecretString;
use shared::adapters::telegram::{Telegram, TelegramSettings};
use shared::ports::Notifier;

const TOKEN: &str = "123456:AAE-test-token-do-not-log";
const SEND: &str = "/bot123456:AAE-test-token-do-not-log/sendMessage";

fn telegram(s: &MockServer, max_wait_s: u64) -> Telegram {
    Telegram::new(
        TelegramSettings {
            base_url: s.uri(),
            timeout: Duration::from_secs(2),
            max_wait: Duration::from_secs(max_wait_s),
        },
        SecretString::new(TOKEN.into()),
        "-100200300".into(),
    )
    .unwrap()
}

fn ok(id: i64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "ok": true, "result": { "message_id": id, "chat": { "id": -100200300 } } }))
}

async fn bodies(s: &MockServer) -> Vec<Value> {
    s.received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn sends_html_to_the_chat_and_returns_the_message_id() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND))
        .and(body_partial_json(
            json!({ "chat_id": "-100200300", "parse_mode": "HTML" }),
        ))
        .respond_with(ok(4242))
        .expect(1)
        .mount(&s)
        .await;
    assert_eq!(telegram(&s, 0).send("❌ <b>ORDER FAILED</b>").await.unwrap(), 4242);
    assert_eq!(bodies(&s).await[0]["text"], "❌ <b>ORDER FAILED</b>");
}

#[tokio::test]
async fn unparsable_html_is_sent_once_more_as_plain_text() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND))
        .and(body_partial_json(json!({ "parse_mode": "HTML" })))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "ok": false, "error_code": 400, "description": "Bad Request: can't parse entities: unsupported start tag"
        })))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(SEND))
        .respond_with(ok(7))
        .mount(&s)
        .await;
    assert_eq!(telegram(&s, 0).send("<b>broken").await.unwrap(), 7);
    let sent = bodies(&s).await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].get("parse_mode").is_none(),
        "the retry is plain text: {}",
        sent[1]
    );
}

#[tokio::test]
async fn rate_limits_are_respected_or_reported() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": { "retry_after": 1 }
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(SEND))
        .respond_with(ok(9))
        .mount(&s)
        .await;
    let started = std::time::Instant::now();
    assert_eq!(telegram(&s, 3).send("hi").await.unwrap(), 9);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited retry_after");

    let long = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(json!({ "ok": false, "parameters": { "retry_after": 60 } })),
        )
        .expect(1)
        .mount(&long)
        .await;
    let err = telegram(&long, 3).send("hi").await.unwrap_err();
    assert!(err.to_string().contains("429"), "{err}");
}

#[tokio::test]
async fn failures_never_show_the_token() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "ok": false, "description": "Unauthorized" })))
        .mount(&s)
        .await;
    let err = telegram(&s, 0).send("hi").await.unwrap_err().to_string();
    assert!(err.contains("401") && !err.contains("AAE-test-token"), "{err}");
    let down = Telegram::new(
        TelegramSettings {
            base_url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_millis(300),
            max_wait: Duration::ZERO,
        },
        SecretString::new(TOKEN.into()),
        "1".into(),
    )
    .unwrap();
    let err = down.send("hi").await.unwrap_err().to_string();
    assert!(!err.contains("AAE-test-token") && !err.contains("127.0.0.1"), "{err}");
}
