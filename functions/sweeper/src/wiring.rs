//! Builds the sweeper's adapters once per container from the typed config.

use shared::adapters::clock::SystemClock;
use shared::adapters::dynamodb::DynamoStore;
use shared::config::SweeperConfig;

use crate::handler::Sweeper;

pub struct Deps {
    pub store: DynamoStore,
    pub clock: SystemClock,
    pub config: SweeperConfig,
}

impl Deps {
    pub fn new(aws: &aws_config::SdkConfig, config: SweeperConfig) -> Self {
        Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.diagnostics.tables.clone()),
            clock: SystemClock,
            config,
        }
    }

    pub fn sweeper(&self) -> Sweeper<'_> {
        Sweeper {
            signals: &self.store,
            intents: &self.store,
            alerts: &self.store,
            clock: &self.clock,
            grace: self.config.diagnostics.grace,
            window_hours: self.config.window_hours,
            namespace: &self.config.metrics_namespace,
        }
    }
}
