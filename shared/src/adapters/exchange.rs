//! The exchange a stack trades on, built once at init from [`TradingConfig`]: the Crypto.com adapter with its
//! credentials from Secrets Manager (LIVE_TRADING on), or the paper exchange. The orchestrator places orders
//! through it; the sweeper's reconciliation reads fills through it (docs/DESIGN.md §13).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::adapters::crypto_com::{Credentials, CryptoCom, CryptoComSettings, UsdTickers};
use crate::adapters::paper::{PaperExchange, PaperPrices};
use crate::adapters::secrets::{json_secret, SecretString};
use crate::adapters::telegram::Telegram;
use crate::config::{ExchangeKind, PaperUsdPrices, TelegramConfig, TradingConfig};
use crate::orchestration::ExecutionMode;
use crate::ports::{BoxError, Exchange};

/// The stack's Telegram notifier and exchange, their secrets read at once (a cold start waits one round trip).
pub async fn with_notifier(
    secrets: &aws_sdk_secretsmanager::Client,
    telegram: &TelegramConfig,
    trading: &TradingConfig,
) -> Result<(Telegram, Box<dyn Exchange>), BoxError> {
    let (notifier, exchange_secret) = tokio::join!(Telegram::from_config(secrets, telegram), secret(secrets, trading));
    let exchange = build(trading, exchange_secret?)?;
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

pub fn build(
    config: &TradingConfig,
    secret: Option<BTreeMap<String, SecretString>>,
) -> Result<Box<dyn Exchange>, BoxError> {
    let timeout = Duration::from_millis(config.exchange.timeout_ms);
    Ok(match config.mode {
        ExecutionMode::Live => {
            let fields = secret.ok_or("live mode without the exchange secret")?;
            match config.exchange.kind {
                ExchangeKind::CryptoCom => {
                    let creds = Credentials::from_secret(fields, &config.exchange.secret_id)?;
                    let settings = CryptoComSettings {
                        base_url: config.exchange.base_url.clone(),
                        timeout,
                        rate_limit_retries: 3,
                        backoff: Duration::from_millis(200),
                    };
                    Box::new(CryptoCom::new(settings, creds)?)
                }
            }
        }
        ExecutionMode::Paper | ExecutionMode::Blocked => {
            let prices = match &config.paper_usd_prices {
                PaperUsdPrices::Fixed(prices) => PaperPrices::Fixed(prices.clone()),
                PaperUsdPrices::Live => PaperPrices::Live(UsdTickers::new(&config.exchange.base_url, timeout)?),
            };
            Box::new(PaperExchange::with_prices(config.paper_min_notional, prices).with_fee_rate(config.paper_fee_rate))
        }
    })
}
