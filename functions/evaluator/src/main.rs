use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

use evaluator::wiring::Deps;
use shared::adapters::clock::SystemClock;
use shared::config::{EvaluatorConfig, ProcessEnv};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = EvaluatorConfig::from_source(&ProcessEnv)?;
    let aws = aws_config::load_from_env().await;
    let deps = Deps::new(&aws, config, SystemClock).await?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<EventBridgeEvent>| async {
        Ok::<_, Error>(deps.evaluator().run().await?)
    }))
    .await
}
