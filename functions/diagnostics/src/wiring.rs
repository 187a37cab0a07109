//! Builds the diagnostics adapters once per container from the typed config.

use shared::adapters::clock::SystemClock;
use shared::adapters::dynamodb::DynamoStore;
use shared::config::DiagnosticsConfig;

use crate::handler::Diagnostics;

pub struct Deps {
    pub store: DynamoStore,
    pub clock: SystemClock,
    pub config: DiagnosticsConfig,
}

impl Deps {
    pub fn new(aws: &aws_config::SdkConfig, config: DiagnosticsConfig) -> Self {
        Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.tables.clone()),
            clock: SystemClock,
            config,
        }
    }

    pub fn diagnostics(&self) -> Diagnostics<'_> {
        Diagnostics {
            signals: &self.store,
            intents: &self.store,
            alerts: &self.store,
            clock: &self.clock,
            grace: self.config.grace,
        }
    }
}
