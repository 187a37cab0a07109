//! Builds the orchestrator's adapters once per container from the typed config: the paper exchange, or — with
//! LIVE_TRADING on — the Crypto.com adapter with its credentials read from Secrets Manager at init.

use crate::config::OrchestratorConfig;
use shared::adapters::clock::SystemClock;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::exchange;
use shared::adapters::telegram::Telegram;
use shared::flow::orchestration::{Orchestrator, OrchestratorSettings};
use shared::ports::{BoxError, Clock, Exchange, Notifier, Stores};
use shared::risk::ControlCache;
use std::sync::Arc;

pub struct Deps {
    pub store: DynamoStore,
    pub exchange: Box<dyn Exchange>,
    pub notifier: Telegram,
    pub clock: Arc<dyn Clock>,
    pub guard: ControlCache,
    pub config: OrchestratorConfig,
}

impl Deps {
    pub async fn new(aws: &aws_config::SdkConfig, config: OrchestratorConfig) -> Result<Self, BoxError> {
        Self::with_clock(aws, config, Arc::new(SystemClock)).await
    }

    /// [`Deps::new`] on another clock (a replay's: its market time is what the paper exchange's legs see).
    pub async fn with_clock(
        aws: &aws_config::SdkConfig,
        config: OrchestratorConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BoxError> {
        let secrets = aws_sdk_secretsmanager::Client::new(aws);
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.tables.clone());
        let guard = ControlCache::default();
        let ((notifier, exchange), ()) = tokio::try_join!(
            exchange::with_notifier(&secrets, &config.telegram, &config.trading, clock.clone()),
            async {
                if config.warm_up {
                    warm_up(&store, &guard).await;
                }
                Ok(())
            }
        )?;
        Ok(Self {
            store,
            exchange,
            notifier,
            clock,
            guard,
            config,
        })
    }

    /// Where the order messages (ORDER FAILED, ORDER PLACED, ORDER EXECUTED, SL/TP) are sent at once.
    pub fn notifier(&self) -> &dyn Notifier {
        &self.notifier
    }

    pub fn orchestrator(&self) -> Orchestrator<'_> {
        Orchestrator {
            stores: Stores::of(&self.store),
            guard: &self.guard,
            exchange: self.exchange.as_ref(),
            clock: self.clock.as_ref(),
            settings: OrchestratorSettings {
                mode: self.config.trading.mode,
                lease_ms: self.config.lease_ms,
                settle_ms: self.config.settle_ms,
                quantity_decimals: self.config.quantity_decimals,
                max_signal_age_ms: self.config.max_signal_age_ms,
                ..OrchestratorSettings::default()
            },
        }
    }
}

/// Reads the control row into the container's cache at init, beside the secrets: the first signal's claim needs it,
/// and reading it now makes the DynamoDB connection (its TLS handshake) before the first event instead of during
/// it. A failure is only logged: the first signal reads the row again, as without the warm-up.
async fn warm_up(store: &DynamoStore, guard: &ControlCache) {
    match shared::ports::ControlStore::control(store).await {
        Ok(control) => guard.set(control),
        Err(e) => tracing::warn!(error = %e, "control row not read at init; the first signal reads it"),
    }
}
