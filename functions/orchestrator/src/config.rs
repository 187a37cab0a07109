//! The orchestrator's configuration (docs/DESIGN.md §9), read once at init.

use std::collections::HashMap;

use rust_decimal::Decimal;
use shared::config::{execution_mode, number, text, ConfigError, Source, TableNames, TelegramConfig};
use shared::money::Usd;
use shared::orchestration::ExecutionMode;

/// Where the live exchange is and how to reach it.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// `https://api.crypto.com/exchange/v1` by default; the UAT sandbox or a local fake otherwise.
    pub base_url: String,
    /// Secrets Manager id of `{"api_key", "api_secret"}`.
    pub secret_id: String,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    pub tables: TableNames,
    pub mode: ExecutionMode,
    pub exchange: ExchangeConfig,
    pub telegram: TelegramConfig,
    pub lease_ms: i64,
    pub settle_ms: i64,
    pub quantity_decimals: u32,
    pub max_signal_age_ms: i64,
    pub paper_min_notional: Usd,
    /// `PAPER_USD_PRICES`: the paper exchange's USD prices of quote currencies — `live` (Crypto.com's public
    /// tickers at `EXCHANGE_BASE_URL`, as live trading sizes; the template's default) or fixed prices
    /// (`BTC=12000,ETH=180`; empty by default, so a non-USD-quoted pair fails with QUOTE_CONVERSION_UNAVAILABLE).
    pub paper_usd_prices: PaperUsdPrices,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PaperUsdPrices {
    Live,
    Fixed(HashMap<String, Decimal>),
}

/// `CCY=price,CCY=price`: positive decimal prices keyed by upper-case currency codes.
fn usd_prices(src: &dyn Source, var: &'static str) -> Result<HashMap<String, Decimal>, ConfigError> {
    let raw = text(src, var, "");
    let bad = |reason: String| ConfigError { var, reason };
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (ccy, price) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("{pair:?} is not CCY=price")))?;
            let ccy = ccy.trim().to_ascii_uppercase();
            let price = price
                .trim()
                .parse::<Decimal>()
                .ok()
                .filter(|p| *p > Decimal::ZERO)
                .ok_or_else(|| bad(format!("{pair:?}: the price must be a positive decimal")))?;
            if ccy.is_empty() || !ccy.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(bad(format!("{pair:?}: {ccy:?} is not a currency code")));
            }
            Ok((ccy, price))
        })
        .collect()
}

impl OrchestratorConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let mode = execution_mode(src);
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
            mode,
            exchange: ExchangeConfig {
                base_url: text(src, "EXCHANGE_BASE_URL", "https://api.crypto.com/exchange/v1"),
                secret_id: text(src, "EXCHANGE_SECRET_ID", "signal-orchestrator/exchange"),
                timeout_ms: number(src, "EXCHANGE_TIMEOUT_MS", 10_000u64, |t| (100..=25_000).contains(t))?,
            },
            telegram: TelegramConfig::from_source(src),
            lease_ms,
            settle_ms,
            quantity_decimals: number(src, "QUANTITY_DECIMALS", 8u32, |d| *d <= 18)?,
            max_signal_age_ms: number(src, "MAX_SIGNAL_AGE_SECONDS", 900i64, |s| (10..=86_400).contains(s))? * 1000,
            paper_min_notional: Usd(number(src, "PAPER_MIN_NOTIONAL_USD", Decimal::ONE, |d| {
                *d >= Decimal::ZERO
            })?),
            paper_usd_prices: match text(src, "PAPER_USD_PRICES", "").trim() {
                "live" => PaperUsdPrices::Live,
                _ => PaperUsdPrices::Fixed(usd_prices(src, "PAPER_USD_PRICES")?),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::Pairs;

    #[test]
    fn live_trading_fails_closed() {
        assert_eq!(
            OrchestratorConfig::from_source(&Pairs::new(&[])).unwrap().mode,
            ExecutionMode::Paper
        );
        let off = Pairs::new(&[("LIVE_TRADING", "maybe"), ("PAPER_TRADING", "false")]);
        assert_eq!(
            OrchestratorConfig::from_source(&off).unwrap().mode,
            ExecutionMode::Blocked
        );
        let live = OrchestratorConfig::from_source(&Pairs::new(&[("LIVE_TRADING", "TRUE")])).unwrap();
        assert_eq!(live.mode, ExecutionMode::Live);
        assert_eq!(live.exchange.base_url, "https://api.crypto.com/exchange/v1");
        let err = OrchestratorConfig::from_source(&Pairs::new(&[("LEASE_SECONDS", "20"), ("SETTLE_SECONDS", "20")]))
            .unwrap_err();
        assert_eq!(err.var, "SETTLE_SECONDS");
    }

    #[test]
    fn paper_prices_are_live_or_fixed() {
        let prices = |raw: &str| OrchestratorConfig::from_source(&Pairs::new(&[("PAPER_USD_PRICES", raw)]));
        assert_eq!(prices("live").unwrap().paper_usd_prices, PaperUsdPrices::Live);
        let fixed = HashMap::from([
            ("BTC".to_string(), Decimal::from(12_000)),
            ("ETH".to_string(), Decimal::new(1805, 1)),
        ]);
        assert_eq!(
            prices("btc=12000, ETH=180.5").unwrap().paper_usd_prices,
            PaperUsdPrices::Fixed(fixed)
        );
        assert_eq!(
            prices("").unwrap().paper_usd_prices,
            PaperUsdPrices::Fixed(HashMap::new())
        );
        for bad in ["BTC", "BTC=0", "BTC=-1", "B-C=1", "BTC=x"] {
            assert_eq!(prices(bad).unwrap_err().var, "PAPER_USD_PRICES", "{bad}");
        }
    }
}
