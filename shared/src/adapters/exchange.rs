//! The exchange a stack trades on, built once at init from [`TradingConfig`]: the Crypto.com adapter with its
//! credentials from Secrets Manager (LIVE_TRADING on), or the paper exchange. The orchestrator places orders
//! through it; the sweeper's reconciliation reads fills through it (docs/DESIGN.md §13).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::adapters::crypto_com::{CryptoCom, CryptoComSettings, UsdTickers};
use crate::adapters::paper::{PaperExchange, PaperMarket, PaperPrices};
use crate::adapters::secrets::{json_secret, Credentials, SecretString};
use crate::adapters::telegram::Telegram;
use crate::config::{ExchangeKind, PaperCandles, PaperUsdPrices, TelegramConfig, TradingConfig};
use crate::order::ExecutionMode;
use crate::ports::{BoxError, Clock, Exchange, MarketData};

/// The stack's Telegram notifier and exchange, their secrets read at once (a cold start waits one round trip).
pub async fn with_notifier(
    secrets: &aws_sdk_secretsmanager::Client,
    telegram: &TelegramConfig,
    trading: &TradingConfig,
    clock: std::sync::Arc<dyn Clock>,
) -> Result<(Telegram, Box<dyn Exchange>), BoxError> {
    let (notifier, exchange_secret) = tokio::join!(Telegram::from_config(secrets, telegram), secret(secrets, trading));
    let exchange = build(trading, exchange_secret?, clock)?;
    Ok((notifier?, exchange))
}

/// The exchange secret's fields, read only in live mode (None otherwise): fetch it beside the other secrets of the
/// cold start, then hand it to [`build`].
pub async fn secret(
    secrets: &aws_sdk_secretsmanager::Client,
    config: &TradingConfig,
) -> Result<Option<BTreeMap<String, SecretString>>, BoxError> {
    match config.mode {
        ExecutionMode::Live => Ok(Some(json_secret(secrets, &config.exchange.secret_id).await?)),
        ExecutionMode::Paper | ExecutionMode::Blocked => Ok(None),
    }
}

/// `clock`: whose market time says which candles have closed for the paper exchange's protective legs.
pub fn build(
    config: &TradingConfig,
    secret: Option<BTreeMap<String, SecretString>>,
    clock: std::sync::Arc<dyn Clock>,
) -> Result<Box<dyn Exchange>, BoxError> {
    let timeout = Duration::from_millis(config.exchange.timeout_ms);
    Ok(match config.mode {
        ExecutionMode::Live => {
            let fields = secret.ok_or("live mode without the exchange secret")?;
            let creds = Credentials::from_secret(fields, &config.exchange.secret_id)?;
            match config.exchange.kind {
                ExchangeKind::CryptoCom => {
                    let settings = CryptoComSettings {
                        base_url: config.exchange.base_url.clone(),
                        timeout,
                        rate_limit_retries: 3,
                        backoff: Duration::from_millis(200),
                        order_budget: config.exchange.order_budget,
                    };
                    Box::new(CryptoCom::new(settings, creds)?)
                }
                #[cfg(feature = "echo-exchange")]
                ExchangeKind::Echo => Box::new(crate::adapters::echo::Echo::new(
                    &config.exchange.base_url,
                    timeout,
                    creds,
                )?),
            }
        }
        ExecutionMode::Paper | ExecutionMode::Blocked => {
            let prices = match &config.paper_usd_prices {
                PaperUsdPrices::Fixed(prices) => PaperPrices::Fixed(prices.clone()),
                PaperUsdPrices::Live => PaperPrices::Live(UsdTickers::new(&config.exchange.base_url, timeout)?),
            };
            let market = paper_candles(config, timeout)?.map(|candles| PaperMarket {
                candles,
                timeframe: config.timeframe,
                clock,
            });
            Box::new(
                PaperExchange::with_prices(config.paper_min_notional, prices)
                    .with_fee_rate(config.paper_fee_rate)
                    .with_market(market),
            )
        }
    })
}

/// The paper exchange's candles: a folder, the shipped ones when this build carries them, or Crypto.com's public
/// candles. None (logged once at init) when `MARKET_DATA=replay` names none this build has: paper OCOs then stay
/// open, never triggered, and the protection still shows as placed.
fn paper_candles(
    config: &TradingConfig,
    timeout: Duration,
) -> Result<Option<std::sync::Arc<dyn MarketData>>, BoxError> {
    use crate::adapters::replay::{ReplayError, ReplayMarketData};
    Ok(match &config.paper_candles {
        PaperCandles::CryptoCom => Some(std::sync::Arc::new(
            crate::adapters::crypto_com::candles::CryptoComCandles::new(config.exchange.base_url.clone(), timeout)?,
        )),
        PaperCandles::Replay(Some(dir)) => Some(std::sync::Arc::new(ReplayMarketData::from_dir(dir)?)),
        PaperCandles::Replay(None) => match ReplayMarketData::embedded() {
            Ok(r) => Some(std::sync::Arc::new(r)),
            Err(ReplayError::NotEmbedded) => {
                tracing::warn!(
                    "paper protection: no candles in this build (MARKET_DATA=replay without REPLAY_DIR); \
                    paper stop-loss and take-profit orders are held open, never triggered"
                );
                None
            }
            Err(e) => return Err(e.into()),
        },
    })
}
