//! Telegram Bot API adapter: `sendMessage` in HTML parse mode; on a "can't parse entities" 400 it retries once as
//! plain text; on 429 it waits `retry_after` once when that is short, else reports the failure (the outbox row stays
//! PENDING for the sweeper). The bot token is part of the URL, so no error text ever includes the URL.

use std::time::Duration;

use super::http::{self, ClientError};

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::adapters::secrets::{json_secret, take_field, SecretString};
use crate::config::TelegramConfig;
use crate::ports::{BoxError, Notifier, NotifyError};

#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// `https://api.telegram.org`, or a local sink.
    pub base_url: String,
    pub timeout: Duration,
    /// Longest `retry_after` worth waiting for inside one invocation.
    pub max_wait: Duration,
}

pub struct Telegram {
    http: reqwest::Client,
    settings: TelegramSettings,
    token: SecretString,
    chat_id: String,
}

impl Telegram {
    pub fn new(settings: TelegramSettings, token: SecretString, chat_id: String) -> Result<Self, ClientError> {
        let http = http::client(settings.timeout)?;
        Ok(Self {
            http,
            settings,
            token,
            chat_id,
        })
    }

    /// The notifier of a function: token and chat id from the `{"bot_token", "chat_id"}` secret, read at init.
    pub async fn from_config(
        secrets: &aws_sdk_secretsmanager::Client,
        config: &TelegramConfig,
    ) -> Result<Self, BoxError> {
        let mut fields = json_secret(secrets, &config.secret_id).await?;
        let token = take_field(&mut fields, &config.secret_id, "bot_token")?;
        let chat_id = take_field(&mut fields, &config.secret_id, "chat_id")?;
        let settings = TelegramSettings {
            base_url: config.base_url.clone(),
            timeout: Duration::from_secs(5),
            max_wait: Duration::from_secs(3),
        };
        Ok(Self::new(settings, token, chat_id.expose().to_string())?)
    }

    async fn post(&self, body: &Value) -> Result<(u16, Value), NotifyError> {
        let url = format!(
            "{}/bot{}/sendMessage",
            self.settings.base_url.trim_end_matches('/'),
            self.token.expose()
        );
        let resp = self.http.post(url).json(body).send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "transport error"
            };
            NotifyError::Transport {
                kind,
                source: Box::new(e.without_url()),
            }
        })?;
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.unwrap_or(Value::Null);
        Ok((status, json))
    }
}

#[async_trait]
impl Notifier for Telegram {
    async fn send(&self, text: &str) -> Result<i64, NotifyError> {
        let mut body = json!({ "chat_id": self.chat_id, "text": text, "parse_mode": "HTML" });
        let mut plain_retry_done = false;
        let mut waited = false;
        loop {
            let (status, reply) = self.post(&body).await?;
            match send_outcome(status, &reply) {
                SendOutcome::Sent(message_id) => return Ok(message_id),
                SendOutcome::HtmlRefused(description) if !plain_retry_done => {
                    tracing::warn!(description, "telegram refused the HTML; sending once as plain text");
                    if let Some(obj) = body.as_object_mut() {
                        obj.remove("parse_mode");
                    }
                    plain_retry_done = true;
                }
                SendOutcome::RateLimited { retry_after_s } if !waited => {
                    let wait = Duration::from_secs(retry_after_s);
                    if wait > self.settings.max_wait {
                        return Err(NotifyError::RateLimited { retry_after_s });
                    }
                    tracing::warn!(retry_after = retry_after_s, "telegram rate limit; waiting once");
                    tokio::time::sleep(wait).await;
                    waited = true;
                }
                SendOutcome::HtmlRefused(why) => {
                    return Err(NotifyError::Refused(format!("sendMessage: HTTP 400: {why}")))
                }
                SendOutcome::Failed(why) => return Err(NotifyError::Refused(why)),
                SendOutcome::RateLimited { retry_after_s } => return Err(NotifyError::RateLimited { retry_after_s }),
            }
        }
    }
}

/// What a `sendMessage` answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Sent(i64),
    /// 400 "can't parse entities": the HTML was refused (the description).
    HtmlRefused(String),
    /// 429 with the seconds Telegram asks to wait (60 when it does not say).
    RateLimited {
        retry_after_s: u64,
    },
    Failed(String),
}

/// A `sendMessage` answer (any status, any JSON) classified; an `ok` without a message id is a failure, not a
/// delivery (fuzzed).
pub fn send_outcome(status: u16, reply: &Value) -> SendOutcome {
    let description = reply.get("description").and_then(Value::as_str).unwrap_or_default();
    if status == 200 && reply.get("ok") == Some(&Value::Bool(true)) {
        return match reply.pointer("/result/message_id").and_then(Value::as_i64) {
            Some(id) => SendOutcome::Sent(id),
            None => SendOutcome::Failed("sendMessage: ok without result.message_id".into()),
        };
    }
    if status == 400 && description.to_ascii_lowercase().contains("parse entities") {
        return SendOutcome::HtmlRefused(description.chars().take(200).collect());
    }
    if status == 429 {
        let retry_after_s = reply
            .pointer("/parameters/retry_after")
            .and_then(Value::as_u64)
            .unwrap_or(60);
        return SendOutcome::RateLimited { retry_after_s };
    }
    SendOutcome::Failed(format!(
        "sendMessage: HTTP {status}: {}",
        description.chars().take(200).collect::<String>()
    ))
}
