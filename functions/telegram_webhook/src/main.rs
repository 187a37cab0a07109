use lambda_http::{service_fn, Error, Request};

use shared::config::ProcessEnv;
use telegram_webhook::config::WebhookConfig;
use telegram_webhook::wiring::Deps;

// One thread: Lambda hands a container one event at a time and the work is waiting on I/O; no worker threads to
// start at init (measured by ./scripts/bench.sh, docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = WebhookConfig::from_source(&ProcessEnv)?;
    let aws = shared::adapters::aws::lambda();
    let deps = Deps::new(&aws, config).await.map_err(shared::telemetry::init_failed)?;
    let webhook = deps.webhook();
    lambda_http::run(service_fn(|req: Request| {
        let webhook = &webhook;
        async move { Ok::<_, Error>(webhook.handle(req).await) }
    }))
    .await
}
