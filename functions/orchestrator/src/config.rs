//! The orchestrator's configuration (docs/DESIGN.md §9), read once at init.

use shared::config::{flag, number, ConfigError, Source, TableNames, TelegramConfig, TradingConfig};

#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    pub tables: TableNames,
    /// The execution mode and the exchange it trades on (shared with the sweeper's reconciliation).
    pub trading: TradingConfig,
    pub telegram: TelegramConfig,
    pub lease_ms: i64,
    pub settle_ms: i64,
    pub quantity_decimals: u32,
    pub max_signal_age_ms: i64,
    /// `WARM_UP_AT_INIT` (default on): read the control row at init, which the first signal needs anyway, so the
    /// DynamoDB connection and its TLS handshake are made before the first event (docs/DESIGN.md §15).
    pub warm_up: bool,
}

impl OrchestratorConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let lease_ms = number(src, "LEASE_SECONDS", 60i64, |s| (5..=900).contains(s))? * 1000;
        let settle_ms = number(src, "SETTLE_SECONDS", 30i64, |s| (1..=600).contains(s))? * 1000;
        if settle_ms >= lease_ms {
            return Err(ConfigError {
                var: "SETTLE_SECONDS",
                reason: "must be shorter than LEASE_SECONDS (a send needs a settle window of lease left)".into(),
            });
        }
        Ok(Self {
            tables: TableNames::from_source(src)?,
            trading: TradingConfig::from_source(src)?,
            telegram: TelegramConfig::from_source(src),
            lease_ms,
            settle_ms,
            quantity_decimals: number(src, "QUANTITY_DECIMALS", 8u32, |d| *d <= 18)?,
            max_signal_age_ms: number(src, "MAX_SIGNAL_AGE_SECONDS", 900i64, |s| (10..=86_400).contains(s))? * 1000,
            warm_up: flag(src, "WARM_UP_AT_INIT", true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::Pairs;
    use shared::order::ExecutionMode;

    #[test]
    fn live_trading_fails_closed() {
        assert_eq!(
            OrchestratorConfig::from_source(&Pairs::new(&[])).unwrap().trading.mode,
            ExecutionMode::Paper
        );
        let off = Pairs::new(&[("LIVE_TRADING", "maybe"), ("PAPER_TRADING", "false")]);
        assert_eq!(
            OrchestratorConfig::from_source(&off).unwrap().trading.mode,
            ExecutionMode::Blocked
        );
        let live = OrchestratorConfig::from_source(&Pairs::new(&[("LIVE_TRADING", "TRUE")])).unwrap();
        assert_eq!(live.trading.mode, ExecutionMode::Live);
        assert_eq!(live.trading.exchange.base_url, "https://api.crypto.com/exchange/v1");
        let err = OrchestratorConfig::from_source(&Pairs::new(&[("LEASE_SECONDS", "20"), ("SETTLE_SECONDS", "20")]))
            .unwrap_err();
        assert_eq!(err.var, "SETTLE_SECONDS");
    }
}
