use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};

use evaluator::config::EvaluatorConfig;
use evaluator::wiring::Deps;
use shared::adapters::clock::SystemClock;
use shared::config::ProcessEnv;

// One thread: Lambda hands a container one event at a time and the work is waiting on I/O; no worker threads to
// start at init (measured by ./scripts/bench.sh, docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = EvaluatorConfig::from_source(&ProcessEnv)?;
    let aws = shared::adapters::aws::lambda();
    let deps = Deps::new(&aws, config, SystemClock)
        .await
        .map_err(shared::telemetry::init_failed)?;
    let deps = &deps;
    lambda_runtime::run(service_fn(|event: LambdaEvent<EventBridgeEvent>| async move {
        let evaluator = evaluator::handler::Evaluator {
            deadline: Some(evaluator::handler::run_deadline(
                event.context.deadline,
                chrono::Utc::now().timestamp_millis(),
            )),
            ..deps.evaluator()
        };
        let summary = evaluator.run().await?;
        // EMF: one JSON document per line on stdout; CloudWatch extracts the metrics from the log line.
        println!(
            "{}",
            summary.emf(&deps.config.metrics_namespace, chrono::Utc::now().timestamp_millis())
        );
        // A symbol without data or a signal not enqueued is counted (`EvaluatorErrors`, its alarm) and logged; the
        // invocation still succeeds, so the scheduler's asynchronous invoke never re-runs the whole watchlist for
        // one symbol's gap (the template also sets no Lambda retries: the next schedule runs anyway).
        if summary.errors > 0 || summary.missed > 0 {
            tracing::error!(
                errors = summary.errors,
                missed = summary.missed,
                symbols = summary.symbols,
                "run finished with errors (DATA_MISSING or enqueue failures; see the lines above)"
            );
        }
        Ok::<_, Error>(summary)
    }))
    .await
}
