//! Builds the evaluator's adapters once per container, from the typed config and the AWS SDK config.

use shared::adapters::clock::SystemClock;
use shared::adapters::dynamodb::DynamoStore;
use shared::ports::{BoxError, Clock, MarketData, Stores};
use std::time::Duration;

use crate::config::{EvaluatorConfig, MarketSource};
use shared::adapters::crypto_com::candles::CryptoComCandles;
use shared::adapters::replay::ReplayMarketData;
use shared::adapters::sqs::SqsQueue;
use shared::adapters::telegram::Telegram;

use crate::handler::Evaluator;

/// Where candles come from.
pub enum Market {
    Replay(ReplayMarketData),
    CryptoCom(CryptoComCandles),
}

impl Market {
    fn port(&self) -> &dyn MarketData {
        match self {
            Market::Replay(r) => r,
            Market::CryptoCom(c) => c,
        }
    }

    /// The replay source, for drivers that step a simulated clock through it.
    pub fn replay(&self) -> Option<&ReplayMarketData> {
        match self {
            Market::Replay(r) => Some(r),
            Market::CryptoCom(_) => None,
        }
    }
}

pub struct Deps<C: Clock> {
    pub store: DynamoStore,
    pub queue: SqsQueue,
    pub market: Market,
    pub notifier: Telegram,
    pub clock: C,
    pub config: EvaluatorConfig,
}

impl<C: Clock> Deps<C> {
    pub async fn new(aws: &aws_config::SdkConfig, config: EvaluatorConfig, clock: C) -> Result<Self, BoxError> {
        let market = match &config.market {
            MarketSource::EmbeddedReplay => Market::Replay(ReplayMarketData::embedded()?),
            MarketSource::ReplayDir(dir) => Market::Replay(ReplayMarketData::from_dir(dir)?),
            MarketSource::CryptoCom { base_url, budget } => Market::CryptoCom(CryptoComCandles::with_budget(
                base_url.clone(),
                Duration::from_secs(5),
                *budget,
            )?),
        };
        let notifier = Telegram::from_config(&aws_sdk_secretsmanager::Client::new(aws), &config.telegram).await?;
        Ok(Self {
            notifier,
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.tables.clone()),
            queue: SqsQueue::new(aws_sdk_sqs::Client::new(aws), config.queue_url.clone()),
            market,
            clock,
            config,
        })
    }

    pub fn evaluator(&self) -> Evaluator<'_> {
        Evaluator {
            stores: Stores::of(&self.store),
            read_control: true,
            queue: &self.queue,
            market: self.market.port(),
            clock: &self.clock,
            notifier: &self.notifier,
            timeframe: self.config.timeframe,
            candle_count: self.config.candle_count,
            concurrency: self.config.concurrency,
            claim_lease_ms: self.config.claim_lease_ms,
            mode: self.config.mode,
            deadline: None,
        }
    }
}

/// The Lambda's own dependencies: market time is the wall clock.
pub type LambdaDeps = Deps<SystemClock>;
