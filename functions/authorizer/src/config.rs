//! The authorizer's configuration (docs/DESIGN.md §9), read once at init.

use shared::config::{text, ConfigError, Source, TelegramConfig};

/// The HTTP API's authorizer: the secrets holding the two routes' keys.
#[derive(Debug, Clone)]
pub struct AuthorizerConfig {
    pub diagnostics_secret_id: String,
    pub telegram_secret_id: String,
}

impl AuthorizerConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            diagnostics_secret_id: text(src, "DIAGNOSTICS_SECRET_ID", "signal-orchestrator/diagnostics"),
            telegram_secret_id: TelegramConfig::from_source(src).secret_id,
        })
    }
}
