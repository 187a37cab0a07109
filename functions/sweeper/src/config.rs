//! The sweeper's configuration (docs/DESIGN.md §9), read once at init.

use shared::config::{number, patience, required, ConfigError, Source, TableNames, TelegramConfig, TradingConfig};
use shared::report::invariants::Patience;

#[derive(Debug, Clone)]
pub struct SweeperConfig {
    pub tables: TableNames,
    /// How long a signal may be in flight before the sweep repairs it (`GRACE_SECONDS`, as the report's).
    pub patience: Patience,
    /// Where re-driven signals go.
    pub queue_url: String,
    pub telegram: TelegramConfig,
    pub window_hours: u32,
    pub metrics_namespace: String,
    /// The exchange whose fills the reconciliation reads: the orchestrator's variables (`LIVE_TRADING`,
    /// `EXCHANGE_BASE_URL`, `EXCHANGE_SECRET_ID`, `PAPER_*`), so both read the same exchange.
    pub trading: TradingConfig,
    /// `RECONCILE_PARALLEL` (1..=30, default 10): order lookups in flight at once.
    pub reconcile_parallel: usize,
    /// `QUANTITY_DECIMALS` (default 8, as the orchestrator's): a quantity under one step is dust, never protected.
    pub quantity_decimals: u32,
}

impl SweeperConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            tables: TableNames::from_source(src)?,
            patience: patience(src)?,
            queue_url: required(src, "SIGNALS_QUEUE_URL")?,
            telegram: TelegramConfig::from_source(src),
            window_hours: number(src, "SWEEP_WINDOW_HOURS", 24u32, |h| (1..=720).contains(h))?,
            metrics_namespace: shared::config::metrics_namespace(src),
            trading: TradingConfig::from_source(src)?,
            reconcile_parallel: number(src, "RECONCILE_PARALLEL", 10usize, |p| (1..=30).contains(p))?,
            quantity_decimals: number(src, "QUANTITY_DECIMALS", 8u32, |d| *d <= 18)?,
        })
    }
}
