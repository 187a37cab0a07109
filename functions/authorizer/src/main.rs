use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use authorizer::config::AuthorizerConfig;
use authorizer::handler::Authorizer;
use shared::adapters::secrets::{json_secret, key_field, SecretError, SecretString};
use shared::config::ProcessEnv;

/// One key field of a JSON secret, read at init.
async fn field(client: &aws_sdk_secretsmanager::Client, id: &str, name: &str) -> Result<SecretString, SecretError> {
    key_field(&mut json_secret(client, id).await?, id, name)
}

// One thread: Lambda hands a container one event at a time and the work is waiting on I/O; no worker threads to
// start at init (measured by ./scripts/bench.sh, docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = AuthorizerConfig::from_source(&ProcessEnv)?;
    let aws = shared::adapters::aws::lambda();
    let client = aws_sdk_secretsmanager::Client::new(&aws);
    // Both secrets at once: the cold start waits for one round trip, not two.
    let (diagnostics_key, webhook_secret) = tokio::join!(
        field(&client, &config.diagnostics_secret_id, "api_key"),
        field(&client, &config.telegram_secret_id, "webhook_secret"),
    );
    let authorizer = Authorizer {
        diagnostics_key: diagnostics_key.map_err(shared::telemetry::init_failed)?,
        webhook_secret: webhook_secret.map_err(shared::telemetry::init_failed)?,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let authorizer = &authorizer;
        async move { Ok::<_, Error>(authorizer.handle(&event.payload)) }
    }))
    .await
}
