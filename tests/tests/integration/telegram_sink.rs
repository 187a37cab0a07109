//! The local Telegram sink answers like the Bot API and records what the Telegram adapter sends it.

use crate::support;

use std::time::Duration;

use shared::adapters::secrets::SecretString;
use shared::adapters::telegram::{Telegram, TelegramSettings};
use shared::ports::Notifier;

#[tokio::test]
async fn the_sink_records_messages_and_returns_message_ids() {
    let sink = support::Sink::start().await;
    let base = sink.base.clone();
    let telegram = Telegram::new(
        TelegramSettings {
            base_url: base.clone(),
            timeout: Duration::from_secs(2),
            max_wait: Duration::ZERO,
        },
        SecretString::new("000000:local-token".into()),
        "-1000000000000".into(),
    )
    .unwrap();
    assert_eq!(telegram.send("❌ <b>ORDER FAILED</b> one").await.unwrap(), 1);
    assert_eq!(telegram.send("two").await.unwrap(), 2);
    let messages: Vec<serde_json::Value> = tests::http_get(&format!("{base}/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["text"], "❌ <b>ORDER FAILED</b> one");
    assert_eq!(messages[0]["parse_mode"], "HTML");
    assert_eq!(messages[1]["chat_id"], "-1000000000000");
    let other = shared::adapters::http::client(Duration::from_secs(10))
        .unwrap()
        .post(format!("{base}/bot1/getUpdates"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}
