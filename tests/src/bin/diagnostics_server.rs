//! `diagnostics-server ADDR`: serves the diagnostics function's own handler over HTTP on loopback, configured from
//! the environment exactly like the Lambda (tables, grace, auth key from Secrets Manager) — the local stand-in for
//! API Gateway, so `scripts/verify_production_invariant.sh` runs against the local stack as against the deployed API.

use std::collections::HashMap;
use std::sync::Arc;

use diagnostics::config::DiagnosticsConfig;
use lambda_http::{Body, RequestExt};
use shared::config::ProcessEnv;
use tests::http::{serve, HttpRequest, HttpResponse};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::telemetry::init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4590".into());
    if !addr.starts_with("127.0.0.1:") {
        return Err(format!("refusing to listen on {addr}: loopback only").into());
    }
    let aws = tests::aws().await;
    let deps = Arc::new(diagnostics::wiring::Deps::new(&aws, DiagnosticsConfig::from_source(&ProcessEnv)?).await?);
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("diagnostics API listening on http://{addr}");
    serve(listener, move |req| {
        let deps = deps.clone();
        async move { answer(&deps, req).await }
    })
    .await?;
    Ok(())
}

/// One request through the diagnostics handler, as API Gateway would hand it over.
async fn answer(deps: &diagnostics::wiring::Deps, req: HttpRequest) -> HttpResponse {
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in req.query() {
        params.entry(k).or_default().push(v);
    }
    let mut builder = lambda_http::http::Request::builder()
        .method(req.method.as_str())
        .uri(req.path());
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let response = match builder.body(Body::from(req.body)) {
        Ok(r) => deps.diagnostics().handle(r.with_query_string_parameters(params)).await,
        Err(e) => return HttpResponse::new(400, format!("{{\"error\":\"bad request: {e}\"}}")),
    };
    let passed: Vec<(String, String)> = ["allow", "content-type", "cache-control", "referrer-policy"]
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    HttpResponse::new(response.status().as_u16(), response.body().as_ref()).with_headers(passed)
}
