//! Builds the sweeper's adapters once per container from the typed config.

use crate::config::SweeperConfig;
use shared::adapters::clock::SystemClock;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::exchange;
use shared::adapters::sqs::SqsQueue;
use shared::adapters::telegram::Telegram;
use shared::ports::{BoxError, Clock, Exchange};
use std::sync::Arc;

use crate::handler::Sweeper;

pub struct Deps {
    pub store: DynamoStore,
    pub queue: SqsQueue,
    pub notifier: Telegram,
    pub clock: Arc<dyn Clock>,
    pub exchange: Box<dyn Exchange>,
    pub config: SweeperConfig,
}

impl Deps {
    pub async fn new(aws: &aws_config::SdkConfig, config: SweeperConfig) -> Result<Self, BoxError> {
        Self::with_clock(aws, config, Arc::new(SystemClock)).await
    }

    /// [`Deps::new`] on another clock (a replay's: its market time is what the paper exchange's legs see).
    pub async fn with_clock(
        aws: &aws_config::SdkConfig,
        config: SweeperConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BoxError> {
        let secrets = aws_sdk_secretsmanager::Client::new(aws);
        let (notifier, exchange) =
            exchange::with_notifier(&secrets, &config.telegram, &config.trading, clock.clone()).await?;
        Ok(Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.tables.clone()),
            queue: SqsQueue::new(aws_sdk_sqs::Client::new(aws), config.queue_url.clone()),
            notifier,
            clock,
            exchange,
            config,
        })
    }

    pub fn sweeper(&self) -> Sweeper<'_> {
        Sweeper {
            patience: self.config.patience,
            window_hours: self.config.window_hours,
            namespace: &self.config.metrics_namespace,
            exchange: Some(self.exchange.as_ref()),
            reconcile_parallel: self.config.reconcile_parallel,
            quantity_decimals: self.config.quantity_decimals,
            ..Sweeper::over(&self.store, &self.queue, &self.notifier, self.clock.as_ref())
        }
    }
}
