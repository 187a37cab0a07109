//! Builds the diagnostics adapters once per container from the typed config, with the API key read from Secrets
//! Manager at init (unless auth is explicitly off).

use crate::config::DiagnosticsConfig;
use shared::adapters::clock::SystemClock;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::secrets::{json_secret, key_field, SecretString};
use shared::ports::BoxError;

use crate::handler::Diagnostics;

pub struct Deps {
    pub store: DynamoStore,
    pub clock: SystemClock,
    pub api_key: Option<SecretString>,
    pub config: DiagnosticsConfig,
}

impl Deps {
    pub async fn new(aws: &aws_config::SdkConfig, config: DiagnosticsConfig) -> Result<Self, BoxError> {
        let api_key = match &config.auth_secret_id {
            Some(id) => {
                let mut secret = json_secret(&aws_sdk_secretsmanager::Client::new(aws), id).await?;
                Some(key_field(&mut secret, id, "api_key")?)
            }
            None => {
                tracing::warn!("diagnostics auth is off (DIAGNOSTICS_AUTH=off): for local runs only");
                None
            }
        };
        Ok(Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), config.tables.clone()),
            clock: SystemClock,
            api_key,
            config,
        })
    }

    pub fn diagnostics(&self) -> Diagnostics<'_> {
        Diagnostics {
            patience: self.config.patience,
            ..Diagnostics::over(&self.store, &self.clock, self.api_key.as_ref())
        }
    }
}
