//! The sweeper's configuration (docs/DESIGN.md §9), read once at init.

use chrono::Duration;
use shared::config::{grace, number, required, text, ConfigError, Source, TableNames, TelegramConfig};

#[derive(Debug, Clone)]
pub struct SweeperConfig {
    pub tables: TableNames,
    /// How long a signal may be in flight before the sweep repairs it (`GRACE_SECONDS`, as the report's).
    pub grace: Duration,
    /// Where re-driven signals go.
    pub queue_url: String,
    pub telegram: TelegramConfig,
    pub window_hours: u32,
    pub metrics_namespace: String,
}

impl SweeperConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            tables: TableNames::from_source(src)?,
            grace: grace(src)?,
            queue_url: required(src, "SIGNALS_QUEUE_URL")?,
            telegram: TelegramConfig::from_source(src),
            window_hours: number(src, "SWEEP_WINDOW_HOURS", 24u32, |h| (1..=720).contains(h))?,
            metrics_namespace: text(src, "METRICS_NAMESPACE", "SignalOrchestrator"),
        })
    }
}
