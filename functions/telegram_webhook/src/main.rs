use lambda_http::{service_fn, Error, Request};

use shared::config::{ProcessEnv, WebhookConfig};
use telegram_webhook::wiring::Deps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = WebhookConfig::from_source(&ProcessEnv)?;
    let aws = shared::adapters::aws::load().await;
    let deps = Deps::new(&aws, config).await.map_err(shared::telemetry::init_failed)?;
    let webhook = deps.webhook();
    lambda_http::run(service_fn(|req: Request| {
        let webhook = &webhook;
        async move { Ok::<_, Error>(webhook.handle(req).await) }
    }))
    .await
}
