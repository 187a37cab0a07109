//! The Telegram webhook's configuration (docs/DESIGN.md §9), read once at init.

use shared::config::{patience, text, ConfigError, Source, TableNames, TelegramConfig};
use shared::report::invariants::Patience;

/// The Telegram webhook (docs/DESIGN.md §11): the bot's token, its chat and the webhook's secret token all come
/// from the Telegram secret, `{"bot_token", "chat_id", "webhook_secret"}`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub tables: TableNames,
    pub telegram: TelegramConfig,
    pub patience: Patience,
    /// Crypto.com's public API (`EXCHANGE_BASE_URL`, as the orchestrator's): the last prices `/positions` marks the
    /// open positions at.
    pub exchange_base_url: String,
    /// `TELEGRAM_BOT_USERNAME`: this bot's name; `/cmd@name` with another name (or any name when unset) is ignored.
    pub bot_username: Option<String>,
    /// `DIAGNOSTICS_SECRET_ID`: the diagnostics key `/page` signs operator-page links with (unset: no links).
    pub page_secret_id: Option<String>,
    /// `OPERATOR_PAGE_BASE_URL`: the API's address in those links (unset: the address the webhook was called at).
    pub page_base_url: Option<String>,
}

impl WebhookConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            tables: TableNames::from_source(src)?,
            telegram: TelegramConfig::from_source(src),
            patience: patience(src)?,
            exchange_base_url: text(src, "EXCHANGE_BASE_URL", "https://api.crypto.com/exchange/v1"),
            bot_username: src.get("TELEGRAM_BOT_USERNAME").filter(|v| !v.trim().is_empty()),
            page_secret_id: src.get("DIAGNOSTICS_SECRET_ID").filter(|v| !v.trim().is_empty()),
            page_base_url: src.get("OPERATOR_PAGE_BASE_URL").filter(|v| !v.trim().is_empty()),
        })
    }
}
