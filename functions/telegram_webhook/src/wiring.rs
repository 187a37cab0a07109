//! Builds the webhook's adapters once per container: the bot token, the chat and the webhook secret are read from
//! the Telegram secret at init, and the diagnostics key (which signs `/page` links) from its secret, at once.

use std::time::Duration;

use crate::config::WebhookConfig;
use shared::adapters::clock::SystemClock;
use shared::adapters::crypto_com::UsdTickers;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::secrets::{json_secret, key_field, take_field, SecretString};
use shared::adapters::telegram::{Telegram, TelegramSettings};
use shared::ports::{BoxError, Stores};

use crate::handler::{PageLinks, Webhook};

pub struct Deps {
    pub store: DynamoStore,
    pub notifier: Telegram,
    pub clock: SystemClock,
    pub secret: SecretString,
    pub chat_id: i64,
    pub prices: UsdTickers,
    /// The diagnostics key operator-page links are signed with (None: `DIAGNOSTICS_SECRET_ID` unset).
    pub page_key: Option<SecretString>,
    pub config: WebhookConfig,
}

impl Deps {
    pub async fn new(aws: &aws_config::SdkConfig, config: WebhookConfig) -> Result<Self, BoxError> {
        let id = &config.telegram.secret_id;
        let client = aws_sdk_secretsmanager::Client::new(aws);
        let page_key = async {
            match &config.page_secret_id {
                Some(page_id) => key_field(&mut json_secret(&client, page_id).await?, page_id, "api_key").map(Some),
                None => Ok(None),
            }
        };
        let (fields, page_key) = tokio::join!(json_secret(&client, id), page_key);
        let (mut fields, page_key) = (fields?, page_key?);
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
            page_key,
            config,
        })
    }

    pub fn webhook(&self) -> Webhook<'_> {
        Webhook {
            stores: Stores::of(&self.store),
            notifier: &self.notifier,
            clock: &self.clock,
            patience: self.config.patience,
            prices: Some(&self.prices),
            bot_username: self.config.bot_username.as_deref(),
            secret: &self.secret,
            chat_id: self.chat_id,
            page: self.page_key.as_ref().map(|key| PageLinks {
                key,
                base_url: self.config.page_base_url.as_deref(),
            }),
        }
    }
}
