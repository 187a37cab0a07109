use lambda_http::{service_fn, Error, Request};

use diagnostics::config::DiagnosticsConfig;
use diagnostics::wiring::Deps;
use shared::config::ProcessEnv;

// One thread: Lambda hands a container one event at a time and the work is waiting on I/O; no worker threads to
// start at init (measured by ./scripts/bench.sh, docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = DiagnosticsConfig::from_source(&ProcessEnv)?;
    let aws = shared::adapters::aws::lambda();
    let deps = Deps::new(&aws, config).await.map_err(shared::telemetry::init_failed)?;
    let diagnostics = deps.diagnostics();
    lambda_http::run(service_fn(|req: Request| {
        let diagnostics = &diagnostics;
        async move { Ok::<_, Error>(diagnostics.handle(req).await) }
    }))
    .await
}
