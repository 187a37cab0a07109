//! Builds the webhook's adapters once per container: the bot token, the chat and the webhook secret are read from
//! the Telegram secret at init.

use std::time::Duration;

use crate::config::WebhookConfig;
use shared::adapters::clock::SystemClock;
use shared::adapters::crypto_com::UsdTickers;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::secrets::{json_secret, key_field, take_field, SecretString};
use shared::adapters::telegram::{Telegram, TelegramSettings};
use shared::ports::BoxError;

use crate::handler::Webhook;

pub struct Deps {
    pub store: DynamoStore,
    pub notifier: Telegram,
    pub clock: SystemClock,
    pub secret: SecretString,
    pub chat_id: i64,
    pub prices: UsdTickers,
    pub config: WebhookConfig,
}

impl Deps {
    pub async fn new(aws: &aws_config::SdkConfig, config: WebhookConfig) -> Result<Self, BoxError> {
        let id = &config.telegram.secret_id;
        let mut fields = json_secret(&aws_sdk_secretsmanager::Client::new(aws), id).await?;
        let (token, chat) = (
            take_field(&mut fields, id, "bot_token")?,
            take_field(&mut fields, id, "chat_id")?,
        );
        let secret = key_field(&mut fields, id, "webhook_secret")?;
        let chat_id: i64 = chat
            .expose()
            .trim()
            .parse()
            .map_err(|_| format!("secret {id}: chat_id is not a numeric Telegram chat id"))?;
        let settings = TelegramSettings {
            base_url: config.telegram.base_url.clone(),
            timeout: Duration::from_secs(5),
            max_wait: Duration::from_secs(3),
        };
        Ok(Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.tables.clone()),
            notifier: Telegram::new(settings, token, chat_id.to_string())?,
            clock: SystemClock,
            secret,
            chat_id,
            prices: UsdTickers::new(&config.exchange_base_url, Duration::from_secs(3))?,
            config,
        })
    }

    pub fn webhook(&self) -> Webhook<'_> {
        Webhook {
            control: &self.store,
            signals: &self.store,
            intents: &self.store,
            alerts: &self.store,
            notifier: &self.notifier,
            clock: &self.clock,
            patience: self.config.patience,
            prices: Some(&self.prices),
            bot_username: self.config.bot_username.as_deref(),
            secret: &self.secret,
            chat_id: self.chat_id,
        }
    }
}
