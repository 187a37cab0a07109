//! The diagnostics API's configuration (docs/DESIGN.md §9), read once at init.

use shared::config::{patience, text, ConfigError, Source, TableNames};
use shared::report::invariants::Patience;

#[derive(Debug, Clone)]
pub struct DiagnosticsConfig {
    pub tables: TableNames,
    pub patience: Patience,
    /// Secrets Manager id of `{"api_key"}` callers send in `X-Diagnostics-Key`; None = auth explicitly off.
    pub auth_secret_id: Option<String>,
}

impl DiagnosticsConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let auth_secret_id = match text(src, "DIAGNOSTICS_AUTH", "on").to_ascii_lowercase().as_str() {
            "on" => Some(text(src, "DIAGNOSTICS_SECRET_ID", "signal-orchestrator/diagnostics")),
            "off" => None,
            other => {
                return Err(ConfigError {
                    var: "DIAGNOSTICS_AUTH",
                    reason: format!("{other:?} is neither on nor off"),
                })
            }
        };
        Ok(Self {
            auth_secret_id,
            tables: TableNames::from_source(src)?,
            patience: patience(src)?,
        })
    }
}
