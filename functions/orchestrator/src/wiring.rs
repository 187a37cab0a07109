//! Builds the orchestrator's adapters once per container from the typed config.

use shared::adapters::clock::SystemClock;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::paper::PaperExchange;
use shared::config::OrchestratorConfig;
use shared::orchestration::{Orchestrator, OrchestratorSettings};

pub struct Deps {
    pub store: DynamoStore,
    pub exchange: PaperExchange,
    pub clock: SystemClock,
    pub config: OrchestratorConfig,
}

impl Deps {
    pub fn new(aws: &aws_config::SdkConfig, config: OrchestratorConfig) -> Self {
        Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.tables.clone()),
            exchange: PaperExchange::new(config.paper_min_notional),
            clock: SystemClock,
            config,
        }
    }

    pub fn orchestrator(&self) -> Orchestrator<'_> {
        Orchestrator {
            intents: &self.store,
            signals: &self.store,
            exchange: &self.exchange,
            clock: &self.clock,
            settings: OrchestratorSettings {
                mode: self.config.mode,
                lease_ms: self.config.lease_ms,
                settle_ms: self.config.settle_ms,
                quantity_decimals: self.config.quantity_decimals,
            },
        }
    }
}
