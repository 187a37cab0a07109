use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

use shared::config::ProcessEnv;
use sweeper::config::SweeperConfig;
use sweeper::wiring::Deps;

// One thread: Lambda hands a container one event at a time and the work is waiting on I/O; no worker threads to
// start at init (measured by ./scripts/bench.sh, docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = SweeperConfig::from_source(&ProcessEnv)?;
    let aws = shared::adapters::aws::lambda();
    let deps = Deps::new(&aws, config).await.map_err(shared::telemetry::init_failed)?;
    let sweeper = deps.sweeper();
    lambda_runtime::run(service_fn(|_: LambdaEvent<EventBridgeEvent>| {
        let sweeper = &sweeper;
        async move {
            let (emf, summary) = sweeper.run().await?;
            // EMF: one JSON document per line on stdout; CloudWatch extracts the metrics from the log line.
            println!("{emf}");
            Ok::<_, Error>(summary)
        }
    }))
    .await
}
