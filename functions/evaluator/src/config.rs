//! The evaluator's configuration (docs/DESIGN.md §9), read once at init.

use std::path::PathBuf;

use shared::adapters::crypto_com::candles::{DEFAULT_BUDGET, PUBLIC_LIMIT};
use shared::adapters::rate::Budget;
use shared::config::{execution_mode, number, required, text, ConfigError, Source, TableNames, TelegramConfig};
use shared::market::candles::Timeframe;
use shared::order::ExecutionMode;

/// Where the evaluator's candles come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketSource {
    /// The candles shipped with the project, compiled in.
    EmbeddedReplay,
    /// Every candle file of a folder (`REPLAY_DIR`).
    ReplayDir(PathBuf),
    /// Crypto.com `public/get-candlestick` at `EXCHANGE_BASE_URL`, at most `PUBLIC_API_BUDGET` requests (default
    /// 95 a second, below the exchange's 100 per IP and method).
    CryptoCom { base_url: String, budget: Budget },
}

#[derive(Debug, Clone)]
pub struct EvaluatorConfig {
    pub tables: TableNames,
    pub telegram: TelegramConfig,
    pub queue_url: String,
    pub timeframe: Timeframe,
    pub candle_count: usize,
    pub market: MarketSource,
    /// Symbols evaluated at once (bounded fan-out; the exchange allows 100 public requests per second).
    pub concurrency: usize,
    /// LIVE_TRADING / PAPER_TRADING, as the orchestrator reads them: the alerts say which mode orders run in.
    pub mode: ExecutionMode,
    /// `EMISSION_LEASE_SECONDS` (default 60, the function's timeout): how long an emission claim belongs to the run
    /// that took it.
    pub claim_lease_ms: i64,
    /// `METRICS_NAMESPACE`: where the run's EMF metrics go (the stack's own namespace in the template).
    pub metrics_namespace: String,
}

impl EvaluatorConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let tf_raw = text(src, "TIMEFRAME", "1h");
        let timeframe = Timeframe::parse(&tf_raw).ok_or(ConfigError {
            var: "TIMEFRAME",
            reason: format!("{tf_raw:?} is not one of 1m 5m 15m 30m 1h 2h 4h 12h 1D"),
        })?;
        let market = match text(src, "MARKET_DATA", "replay").as_str() {
            "replay" => match src.get("REPLAY_DIR") {
                Some(dir) => MarketSource::ReplayDir(PathBuf::from(dir)),
                None => MarketSource::EmbeddedReplay,
            },
            "crypto_com" => MarketSource::CryptoCom {
                base_url: text(src, "EXCHANGE_BASE_URL", "https://api.crypto.com/exchange/v1"),
                budget: shared::config::budget(
                    src,
                    "PUBLIC_API_BUDGET",
                    DEFAULT_BUDGET,
                    PUBLIC_LIMIT.per_second_f64(),
                )?,
            },
            other => {
                return Err(ConfigError {
                    var: "MARKET_DATA",
                    reason: format!("{other:?} is neither replay nor crypto_com"),
                })
            }
        };
        Ok(Self {
            tables: TableNames::from_source(src)?,
            telegram: TelegramConfig::from_source(src),
            queue_url: required(src, "SIGNALS_QUEUE_URL")?,
            timeframe,
            candle_count: number(src, "CANDLE_COUNT", 200, |n: &usize| (20..=300).contains(n))?,
            concurrency: number(src, "EVALUATOR_CONCURRENCY", 8, |n: &usize| (1..=64).contains(n))?,
            mode: execution_mode(src),
            claim_lease_ms: 1000 * number(src, "EMISSION_LEASE_SECONDS", 60, |n: &i64| (1..=900).contains(n))?,
            metrics_namespace: shared::config::metrics_namespace(src),
            market,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::Pairs;

    #[test]
    fn bad_values_name_their_variable() {
        let e =
            EvaluatorConfig::from_source(&Pairs::new(&[("SIGNALS_QUEUE_URL", "q"), ("TIMEFRAME", "7m")])).unwrap_err();
        assert_eq!(e.var, "TIMEFRAME");
        assert_eq!(
            EvaluatorConfig::from_source(&Pairs::new(&[])).unwrap_err().var,
            "SIGNALS_QUEUE_URL"
        );
        let ok = EvaluatorConfig::from_source(&Pairs::new(&[("SIGNALS_QUEUE_URL", "q")])).unwrap();
        assert_eq!(
            (ok.timeframe, ok.candle_count, ok.market),
            (Timeframe::H1, 200, MarketSource::EmbeddedReplay)
        );
        let live = |budget: Option<&'static str>| {
            let mut pairs = vec![("SIGNALS_QUEUE_URL", "q"), ("MARKET_DATA", "crypto_com")];
            pairs.extend(budget.map(|b| ("PUBLIC_API_BUDGET", b)));
            EvaluatorConfig::from_source(&Pairs::new(&pairs)).map(|c| c.market)
        };
        assert!(matches!(live(None), Ok(MarketSource::CryptoCom { budget, .. }) if budget == DEFAULT_BUDGET));
        assert!(matches!(live(Some("40/1s")), Ok(MarketSource::CryptoCom { budget, .. }) if budget.count == 40));
        assert_eq!(
            live(Some("101/1s")).unwrap_err().var,
            "PUBLIC_API_BUDGET",
            "above the limit"
        );
        assert_eq!(live(Some("lots")).unwrap_err().var, "PUBLIC_API_BUDGET");
    }
}
