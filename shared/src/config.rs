//! What every function's configuration is built from (docs/DESIGN.md §9): the variable source, the typed readers
//! (a bad value fails the cold start with a message naming the variable; handlers never read the environment), and
//! the settings several functions share (tables, Telegram). Each function's own configuration is in its crate
//! (`functions/<name>/src/config.rs`).

use std::collections::HashMap;

use chrono::Duration;
use rust_decimal::Decimal;

use crate::money::Usd;

use crate::order::ExecutionMode;

#[derive(Debug, thiserror::Error)]
#[error("configuration {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

/// Where variables come from: the process environment in functions, [`Pairs`] in tests.
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

/// Variables from name/value pairs instead of the process environment (tests, tools).
pub struct Pairs(std::collections::HashMap<String, String>);

impl Pairs {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        Self(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }
}

impl Source for Pairs {
    fn get(&self, var: &str) -> Option<String> {
        self.0.get(var).cloned()
    }
}

pub fn text(src: &dyn Source, var: &'static str, default: &str) -> String {
    src.get(var).unwrap_or_else(|| default.to_string())
}

pub fn required(src: &dyn Source, var: &'static str) -> Result<String, ConfigError> {
    src.get(var).ok_or(ConfigError {
        var,
        reason: "is required".into(),
    })
}

pub fn number<T: std::str::FromStr>(
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

/// A request budget (`90/1s`, `5/100ms`): `default` when unset; an unreadable one, or one above `max` requests per
/// second, is refused by name.
pub fn budget(
    src: &dyn Source,
    var: &'static str,
    default: crate::adapters::rate::Budget,
    max_per_second: f64,
) -> Result<crate::adapters::rate::Budget, ConfigError> {
    let Some(raw) = src.get(var) else {
        return Ok(default);
    };
    let b: crate::adapters::rate::Budget = raw.parse().map_err(|reason| ConfigError { var, reason })?;
    if b.per_second_f64() > max_per_second {
        return Err(ConfigError {
            var,
            reason: format!("{raw:?} is above the exchange's limit of {max_per_second} requests per second"),
        });
    }
    Ok(b)
}

/// LIVE_TRADING on → live; else PAPER_TRADING (default on) → paper; else no orders at all.
pub fn execution_mode(src: &dyn Source) -> ExecutionMode {
    if flag(src, "LIVE_TRADING", false) {
        ExecutionMode::Live
    } else if flag(src, "PAPER_TRADING", true) {
        ExecutionMode::Paper
    } else {
        ExecutionMode::Blocked
    }
}

/// Fail-closed flag: only an explicit true value turns it on; absent or unparsable is off.
pub fn flag(src: &dyn Source, var: &'static str, default: bool) -> bool {
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

/// `GRACE_SECONDS` (default 120, at most an hour): how long a signal may be in flight before the report counts it.
pub fn grace(src: &dyn Source) -> Result<Duration, ConfigError> {
    Ok(Duration::seconds(number(src, "GRACE_SECONDS", 120i64, |s| {
        (0..=3600).contains(s)
    })?))
}

/// [`grace`]; `UNCONFIRMED_AFTER_MINUTES` (default 10, 1 to 1440): how long a placed order may go without a final
/// fill before the report calls it UNCONFIRMED_ORDER; `UNDELIVERED_AFTER_MINUTES` (default 15, 1 to 1440): how long a
/// Telegram message may stay undelivered before it is UNDELIVERED_MESSAGE; `UNPROTECTED_AFTER_MINUTES` (default 5, 1 to
/// 1440): how long a filled BUY may go without its protection on the exchange before it is UNPROTECTED_POSITION.
pub fn patience(src: &dyn Source) -> Result<crate::report::invariants::Patience, ConfigError> {
    let minutes = number(
        src,
        "UNCONFIRMED_AFTER_MINUTES",
        crate::report::invariants::UNCONFIRMED_AFTER_MINUTES,
        |m| (1..=1440).contains(m),
    )?;
    let undelivered = number(
        src,
        "UNDELIVERED_AFTER_MINUTES",
        crate::report::invariants::UNDELIVERED_AFTER_MINUTES,
        |m| (1..=1440).contains(m),
    )?;
    let unprotected = number(
        src,
        "UNPROTECTED_AFTER_MINUTES",
        crate::report::invariants::UNPROTECTED_AFTER_MINUTES,
        |m| (1..=1440).contains(m),
    )?;
    Ok(crate::report::invariants::Patience {
        grace: grace(src)?,
        unconfirmed_after: Duration::minutes(minutes),
        undelivered_after: Duration::minutes(undelivered),
        unprotected_after: Duration::minutes(unprotected),
    })
}

/// `METRICS_NAMESPACE` (default `SignalOrchestrator`; the template gives each stack its own,
/// `SignalOrchestrator/<stack>`): the CloudWatch namespace of the EMF metrics a function publishes.
pub fn metrics_namespace(src: &dyn Source) -> String {
    text(src, "METRICS_NAMESPACE", "SignalOrchestrator")
}

/// Where the live exchange is and how to reach it.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// `EXCHANGE`: which exchange live orders go to (the adapter `adapters::exchange::build` plugs in).
    pub kind: ExchangeKind,
    /// `https://api.crypto.com/exchange/v1` by default; the UAT sandbox or a local fake otherwise.
    pub base_url: String,
    /// Secrets Manager id of `{"api_key", "api_secret"}`.
    pub secret_id: String,
    pub timeout_ms: u64,
    /// `CREATE_ORDER_BUDGET` (default `5/100ms`): the create-orders this container sends at most. The exchange
    /// allows 15 per 100 ms per API key; the template runs at most 3 orchestrator containers at once
    /// (`MaximumConcurrency`), so together they stay at 15 (docs/DESIGN.md §15).
    pub order_budget: crate::adapters::rate::Budget,
}

/// The exchanges live orders can go to: one adapter each under `adapters/` (CONTRIBUTING.md, "A new exchange").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    /// `crypto_com` (the default): Crypto.com Exchange v1, `adapters/crypto_com/`.
    CryptoCom,
    /// `echo`: the project's own test protocol, `adapters/echo/`; only in builds with the `echo-exchange` feature
    /// (the tests').
    #[cfg(feature = "echo-exchange")]
    Echo,
}

impl ExchangeKind {
    /// The `EXCHANGE` names this build has.
    const NAMES: &str = if cfg!(feature = "echo-exchange") {
        "crypto_com, echo"
    } else {
        "crypto_com"
    };

    fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        match text(src, "EXCHANGE", "crypto_com").trim().to_ascii_lowercase().as_str() {
            "crypto_com" | "crypto.com" => Ok(ExchangeKind::CryptoCom),
            #[cfg(feature = "echo-exchange")]
            "echo" => Ok(ExchangeKind::Echo),
            other => Err(ConfigError {
                var: "EXCHANGE",
                reason: format!("{other:?} is not an exchange this build has ({})", Self::NAMES),
            }),
        }
    }
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

/// The execution mode and where orders go (docs/DESIGN.md §7): what the orchestrator trades with and the sweeper's
/// reconciliation reads fills from, read from the same variables so the two cannot disagree.
#[derive(Debug, Clone)]
pub struct TradingConfig {
    /// `LIVE_TRADING` / `PAPER_TRADING`.
    pub mode: ExecutionMode,
    pub exchange: ExchangeConfig,
    /// `PAPER_MIN_NOTIONAL_USD` (default 1).
    pub paper_min_notional: Usd,
    /// `PAPER_USD_PRICES`: the paper exchange's USD prices of quote currencies — `live` (Crypto.com's public
    /// tickers at `EXCHANGE_BASE_URL`, as live trading sizes; the template's default) or fixed prices
    /// (`BTC=12000,ETH=180`; empty by default, so a non-USD-quoted pair fails with QUOTE_CONVERSION_UNAVAILABLE).
    pub paper_usd_prices: PaperUsdPrices,
    /// `PAPER_TAKER_FEE_PCT` (default 0.075): the paper exchange's fee, percent of an order's quote value.
    pub paper_fee_rate: Decimal,
    /// Where the paper exchange triggers protective legs (docs/DESIGN.md §14): the evaluator's own variables,
    /// `MARKET_DATA` (`replay`, default: `REPLAY_DIR` or the shipped candles; `crypto_com`: the public candles at
    /// `EXCHANGE_BASE_URL`) and `TIMEFRAME` (default 1h).
    pub paper_candles: PaperCandles,
    pub timeframe: crate::market::candles::Timeframe,
}

/// The candle source of the paper exchange's protective legs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaperCandles {
    /// `REPLAY_DIR`, or the shipped candles when the build carries them.
    Replay(Option<std::path::PathBuf>),
    CryptoCom,
}

impl TradingConfig {
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let fee_pct = number(src, "PAPER_TAKER_FEE_PCT", Decimal::new(75, 3), |p| {
            *p >= Decimal::ZERO && *p < Decimal::from(10)
        })?;
        Ok(Self {
            mode: execution_mode(src),
            exchange: ExchangeConfig {
                kind: ExchangeKind::from_source(src)?,
                base_url: text(src, "EXCHANGE_BASE_URL", "https://api.crypto.com/exchange/v1"),
                secret_id: text(src, "EXCHANGE_SECRET_ID", "signal-orchestrator/exchange"),
                timeout_ms: number(src, "EXCHANGE_TIMEOUT_MS", 10_000u64, |t| (100..=25_000).contains(t))?,
                order_budget: budget(
                    src,
                    "CREATE_ORDER_BUDGET",
                    crate::adapters::crypto_com::ORDER_BUDGET,
                    crate::adapters::crypto_com::ORDER_LIMIT.per_second_f64(),
                )?,
            },
            paper_min_notional: Usd(number(src, "PAPER_MIN_NOTIONAL_USD", Decimal::ONE, |d| {
                *d >= Decimal::ZERO
            })?),
            paper_usd_prices: match text(src, "PAPER_USD_PRICES", "").trim() {
                "live" => PaperUsdPrices::Live,
                _ => PaperUsdPrices::Fixed(usd_prices(src, "PAPER_USD_PRICES")?),
            },
            paper_fee_rate: fee_pct.checked_div(Decimal::ONE_HUNDRED).ok_or(ConfigError {
                var: "PAPER_TAKER_FEE_PCT",
                reason: format!("{fee_pct} is not a percentage"),
            })?,
            paper_candles: match text(src, "MARKET_DATA", "replay").as_str() {
                "crypto_com" => PaperCandles::CryptoCom,
                "replay" => PaperCandles::Replay(src.get("REPLAY_DIR").map(std::path::PathBuf::from)),
                other => {
                    return Err(ConfigError {
                        var: "MARKET_DATA",
                        reason: format!("{other:?} is neither replay nor crypto_com"),
                    })
                }
            },
            timeframe: {
                let raw = text(src, "TIMEFRAME", "1h");
                crate::market::candles::Timeframe::parse(&raw).ok_or(ConfigError {
                    var: "TIMEFRAME",
                    reason: format!("{raw:?} is not one of 1m 5m 15m 30m 1h 2h 4h 12h 1D"),
                })?
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_bounded_and_grace_named() {
        assert_eq!(
            TableNames::from_source(&Pairs::new(&[("RETENTION_DAYS", "90")]))
                .unwrap()
                .retention_days,
            90
        );
        assert_eq!(
            TableNames::from_source(&Pairs::new(&[("RETENTION_DAYS", "30")]))
                .unwrap_err()
                .var,
            "RETENTION_DAYS",
            "not shorter than the report's window"
        );
        assert_eq!(
            grace(&Pairs::new(&[("GRACE_SECONDS", "x")])).unwrap_err().var,
            "GRACE_SECONDS"
        );
        assert_eq!(grace(&Pairs::new(&[])).unwrap(), Duration::seconds(120));
        let p = patience(&Pairs::new(&[("UNCONFIRMED_AFTER_MINUTES", "30")])).unwrap();
        assert_eq!(
            (p.grace, p.unconfirmed_after),
            (Duration::seconds(120), Duration::minutes(30))
        );
        assert_eq!(
            patience(&Pairs::new(&[])).unwrap().unconfirmed_after,
            Duration::minutes(10)
        );
        assert_eq!(
            patience(&Pairs::new(&[])).unwrap().undelivered_after,
            Duration::minutes(15)
        );
        assert_eq!(
            patience(&Pairs::new(&[("UNCONFIRMED_AFTER_MINUTES", "0")]))
                .unwrap_err()
                .var,
            "UNCONFIRMED_AFTER_MINUTES"
        );
        assert!(flag(&Pairs::new(&[("F", "on")]), "F", false) && !flag(&Pairs::new(&[("F", "maybe")]), "F", true));
    }

    /// `EXCHANGE` picks the live exchange; a name this build has no adapter for stops the cold start, named.
    #[test]
    fn the_exchange_is_a_setting_and_an_unknown_one_is_refused() {
        let kind = |raw: &[(&str, &str)]| TradingConfig::from_source(&Pairs::new(raw)).map(|c| c.exchange.kind);
        assert_eq!(kind(&[]).unwrap(), ExchangeKind::CryptoCom);
        assert_eq!(kind(&[("EXCHANGE", "Crypto_Com")]).unwrap(), ExchangeKind::CryptoCom);
        let e = kind(&[("EXCHANGE", "binance")]).unwrap_err();
        assert_eq!(e.var, "EXCHANGE");
        assert!(e.reason.contains("binance"), "{}", e.reason);
    }

    #[test]
    fn paper_prices_are_live_or_fixed() {
        let prices = |raw: &str| TradingConfig::from_source(&Pairs::new(&[("PAPER_USD_PRICES", raw)]));
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
