//! Typed configuration, read once at init from the environment (docs/DESIGN.md §9). A bad value fails the cold start
//! with a message naming the variable; handlers never read the environment.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::Duration;
use rust_decimal::Decimal;

use crate::candles::Timeframe;
use crate::money::Usd;
use crate::orchestration::ExecutionMode;

#[derive(Debug, thiserror::Error)]
#[error("configuration {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

/// Where variables come from: the process environment in functions, a map in tests.
pub trait Source {
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, var: &str) -> Option<String> {
        self(var)
    }
}

fn text(src: &dyn Source, var: &'static str, default: &str) -> String {
    src.get(var).unwrap_or_else(|| default.to_string())
}

fn required(src: &dyn Source, var: &'static str) -> Result<String, ConfigError> {
    src.get(var).ok_or(ConfigError {
        var,
        reason: "is required".into(),
    })
}

fn number<T: std::str::FromStr>(
    src: &dyn Source,
    var: &'static str,
    default: T,
    ok: impl Fn(&T) -> bool,
) -> Result<T, ConfigError> {
    match src.get(var) {
        None => Ok(default),
        Some(raw) => raw.trim().parse::<T>().ok().filter(|v| ok(v)).ok_or(ConfigError {
            var,
            reason: format!("{raw:?} is not a valid value"),
        }),
    }
}

/// LIVE_TRADING on → live; else PAPER_TRADING (default on) → paper; else no orders at all.
fn execution_mode(src: &dyn Source) -> ExecutionMode {
    if flag(src, "LIVE_TRADING", false) {
        ExecutionMode::Live
    } else if flag(src, "PAPER_TRADING", true) {
        ExecutionMode::Paper
    } else {
        ExecutionMode::Blocked
    }
}

/// Fail-closed flag: only an explicit true value turns it on; absent or unparsable is off.
fn flag(src: &dyn Source, var: &'static str, default: bool) -> bool {
    match src.get(var) {
        None => default,
        Some(raw) => matches!(raw.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub signals: String,
    pub intents: String,
    pub alerts: String,
    pub watchlist: String,
    /// The control row, the risk counters and handled Telegram updates (docs/DESIGN.md §11).
    pub risk: String,
    /// `RETENTION_DAYS` (default 90, at least 31 — longer than the report's 30-day window): signals, intents and
    /// alerts carry `expires_at` = creation + this, the tables' TTL attribute.
    pub retention_days: i64,
}

impl TableNames {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            signals: text(src, "SIGNALS_TABLE", "signals"),
            intents: text(src, "ORDER_INTENTS_TABLE", "order_intents"),
            alerts: text(src, "ALERTS_TABLE", "alerts"),
            watchlist: text(src, "WATCHLIST_TABLE", "watchlist"),
            risk: text(src, "RISK_TABLE", "risk"),
            retention_days: number(src, "RETENTION_DAYS", 90i64, |d| (31..=3653).contains(d))?,
        })
    }
}

/// Where the evaluator's candles come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketSource {
    /// The candles shipped with the project, compiled in.
    EmbeddedReplay,
    /// Every candle file of a folder (`REPLAY_DIR`).
    ReplayDir(PathBuf),
    /// Crypto.com `public/get-candlestick` at `EXCHANGE_BASE_URL`.
    CryptoCom { base_url: String },
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
            market,
        })
    }
}

/// Where the live exchange is and how to reach it.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// `https://api.crypto.com/exchange/v1` by default; the UAT sandbox or a local fake otherwise.
    pub base_url: String,
    /// Secrets Manager id of `{"api_key", "api_secret"}`.
    pub secret_id: String,
    pub timeout_ms: u64,
}

/// Where Telegram messages go.
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    /// `https://api.telegram.org`, or the local sink.
    pub base_url: String,
    /// Secrets Manager id of `{"bot_token", "chat_id"}`.
    pub secret_id: String,
}

impl TelegramConfig {
    pub fn from_source(src: &dyn Source) -> Self {
        Self {
            base_url: text(src, "TELEGRAM_API_BASE_URL", "https://api.telegram.org"),
            secret_id: text(src, "TELEGRAM_SECRET_ID", "signal-orchestrator/telegram"),
        }
    }
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

#[derive(Debug, Clone)]
pub struct DiagnosticsConfig {
    pub tables: TableNames,
    pub grace: Duration,
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
            grace: Duration::seconds(number(src, "GRACE_SECONDS", 120i64, |s| (0..=3600).contains(s))?),
        })
    }
}

/// The Telegram webhook (docs/DESIGN.md §11): the bot's token, its chat and the webhook's secret token all come
/// from the Telegram secret, `{"bot_token", "chat_id", "webhook_secret"}`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub tables: TableNames,
    pub telegram: TelegramConfig,
    pub grace: Duration,
}

impl WebhookConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            tables: TableNames::from_source(src)?,
            telegram: TelegramConfig::from_source(src),
            grace: Duration::seconds(number(src, "GRACE_SECONDS", 120i64, |s| (0..=3600).contains(s))?),
        })
    }
}

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

#[derive(Debug, Clone)]
pub struct SweeperConfig {
    pub diagnostics: DiagnosticsConfig,
    /// Where re-driven signals go.
    pub queue_url: String,
    pub telegram: TelegramConfig,
    pub window_hours: u32,
    pub metrics_namespace: String,
}

impl SweeperConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            diagnostics: DiagnosticsConfig::from_source(src)?,
            queue_url: required(src, "SIGNALS_QUEUE_URL")?,
            telegram: TelegramConfig::from_source(src),
            window_hours: number(src, "SWEEP_WINDOW_HOURS", 24u32, |h| (1..=720).contains(h))?,
            metrics_namespace: text(src, "METRICS_NAMESPACE", "SignalOrchestrator"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn src(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn live_trading_fails_closed() {
        assert_eq!(
            OrchestratorConfig::from_source(&src(&[])).unwrap().mode,
            ExecutionMode::Paper
        );
        let off = src(&[("LIVE_TRADING", "maybe"), ("PAPER_TRADING", "false")]);
        assert_eq!(
            OrchestratorConfig::from_source(&off).unwrap().mode,
            ExecutionMode::Blocked
        );
        let live = OrchestratorConfig::from_source(&src(&[("LIVE_TRADING", "TRUE")])).unwrap();
        assert_eq!(live.mode, ExecutionMode::Live);
        assert_eq!(live.exchange.base_url, "https://api.crypto.com/exchange/v1");
        let err =
            OrchestratorConfig::from_source(&src(&[("LEASE_SECONDS", "20"), ("SETTLE_SECONDS", "20")])).unwrap_err();
        assert_eq!(err.var, "SETTLE_SECONDS");
    }

    #[test]
    fn paper_prices_are_live_or_fixed_and_retention_is_bounded() {
        let prices = |raw: &str| OrchestratorConfig::from_source(&src(&[("PAPER_USD_PRICES", raw)]));
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
        let retention = |raw: &str| OrchestratorConfig::from_source(&src(&[("RETENTION_DAYS", raw)]));
        assert_eq!(retention("90").unwrap().tables.retention_days, 90);
        assert_eq!(
            retention("30").unwrap_err().var,
            "RETENTION_DAYS",
            "not shorter than the report's window"
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = EvaluatorConfig::from_source(&src(&[("SIGNALS_QUEUE_URL", "q"), ("TIMEFRAME", "7m")])).unwrap_err();
        assert_eq!(e.var, "TIMEFRAME");
        assert_eq!(
            EvaluatorConfig::from_source(&src(&[])).unwrap_err().var,
            "SIGNALS_QUEUE_URL"
        );
        let e = OrchestratorConfig::from_source(&src(&[("LEASE_SECONDS", "-1")])).unwrap_err();
        assert_eq!(e.var, "LEASE_SECONDS");
        let ok = EvaluatorConfig::from_source(&src(&[("SIGNALS_QUEUE_URL", "q")])).unwrap();
        assert_eq!(
            (ok.timeframe, ok.candle_count, ok.market),
            (Timeframe::H1, 200, MarketSource::EmbeddedReplay)
        );
    }
}
