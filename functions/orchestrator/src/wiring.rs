//! Builds the orchestrator's adapters once per container from the typed config: the paper exchange, or — with
//! LIVE_TRADING on — the Crypto.com adapter with its credentials read from Secrets Manager at init.

use std::time::Duration;

use crate::config::{OrchestratorConfig, PaperUsdPrices};
use shared::adapters::clock::SystemClock;
use shared::adapters::crypto_com::{Credentials, CryptoCom, CryptoComSettings, UsdTickers};
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::paper::{PaperExchange, PaperPrices};
use shared::adapters::secrets::json_secret;
use shared::adapters::telegram::Telegram;
use shared::orchestration::{ExecutionMode, Orchestrator, OrchestratorSettings};
use shared::ports::{BoxError, Exchange};
use shared::risk::ControlCache;

use crate::handler::FailureAlerts;

pub struct Deps {
    pub store: DynamoStore,
    pub exchange: Box<dyn Exchange>,
    pub notifier: Telegram,
    pub clock: SystemClock,
    pub guard: ControlCache,
    pub config: OrchestratorConfig,
}

impl Deps {
    pub async fn new(aws: &aws_config::SdkConfig, config: OrchestratorConfig) -> Result<Self, BoxError> {
        let secrets = aws_sdk_secretsmanager::Client::new(aws);
        // Both secrets at once in live mode: the cold start waits for one round trip, not two.
        let exchange_secret = async {
            match config.mode {
                ExecutionMode::Live => json_secret(&secrets, &config.exchange.secret_id).await.map(Some),
                ExecutionMode::Paper | ExecutionMode::Blocked => Ok(None),
            }
        };
        let (notifier, exchange_secret) =
            tokio::join!(Telegram::from_config(&secrets, &config.telegram), exchange_secret);
        let (notifier, exchange_secret) = (notifier?, exchange_secret?);
        let exchange: Box<dyn Exchange> = match config.mode {
            ExecutionMode::Live => {
                let fields = exchange_secret.ok_or("live mode without the exchange secret")?;
                let creds = Credentials::from_secret(fields, &config.exchange.secret_id)?;
                let settings = CryptoComSettings {
                    base_url: config.exchange.base_url.clone(),
                    timeout: Duration::from_millis(config.exchange.timeout_ms),
                    rate_limit_retries: 3,
                    backoff: Duration::from_millis(200),
                };
                Box::new(CryptoCom::new(settings, creds)?)
            }
            ExecutionMode::Paper | ExecutionMode::Blocked => {
                let prices = match &config.paper_usd_prices {
                    PaperUsdPrices::Fixed(prices) => PaperPrices::Fixed(prices.clone()),
                    PaperUsdPrices::Live => PaperPrices::Live(UsdTickers::new(
                        &config.exchange.base_url,
                        Duration::from_millis(config.exchange.timeout_ms),
                    )?),
                };
                Box::new(PaperExchange::with_prices(config.paper_min_notional, prices))
            }
        };
        Ok(Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.tables.clone()),
            exchange,
            notifier,
            clock: SystemClock,
            guard: ControlCache::default(),
            config,
        })
    }

    pub fn failure_alerts(&self) -> FailureAlerts<'_> {
        FailureAlerts {
            store: &self.store,
            notifier: &self.notifier,
        }
    }

    pub fn orchestrator(&self) -> Orchestrator<'_> {
        Orchestrator::over(
            &self.store,
            &self.guard,
            self.exchange.as_ref(),
            &self.clock,
            OrchestratorSettings {
                mode: self.config.mode,
                lease_ms: self.config.lease_ms,
                settle_ms: self.config.settle_ms,
                quantity_decimals: self.config.quantity_decimals,
                max_signal_age_ms: self.config.max_signal_age_ms,
                ..OrchestratorSettings::default()
            },
        )
    }
}
