//! Structured JSON logs on stderr (CloudWatch collects both streams in Lambda; locally stdout stays free for
//! results). Level from `RUST_LOG`, default `info`.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests, harness) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Logs a failed cold start with the whole error chain in words (`secret x: ResourceNotFoundException: …`) and passes
/// the error on: Lambda sees the bootstrap exit and reports the init failure; nothing was handled yet.
pub fn init_failed(e: impl Into<crate::ports::BoxError>) -> crate::ports::BoxError {
    let e = e.into();
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    tracing::error!(error = %chain, "cold start failed; no event was handled");
    e
}
