use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

use orchestrator::config::OrchestratorConfig;
use orchestrator::wiring::Deps;
use shared::config::ProcessEnv;

// One thread: Lambda hands a container one event at a time and the work is waiting on I/O; no worker threads to
// start at init (measured by ./scripts/bench.sh, docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = OrchestratorConfig::from_source(&ProcessEnv)?;
    tracing::info!(mode = ?config.trading.mode, lease_ms = config.lease_ms, "orchestrator starting");
    let aws = shared::adapters::aws::lambda();
    let deps = Deps::new(&aws, config).await.map_err(shared::telemetry::init_failed)?;
    let (orchestrator, notifier) = (deps.orchestrator(), deps.notifier());
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let orchestrator = &orchestrator;
        async move { Ok::<_, Error>(orchestrator::handler::handle(orchestrator, notifier, event.payload).await) }
    }))
    .await
}
