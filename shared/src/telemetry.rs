//! Structured JSON logs on stderr (CloudWatch collects both streams in Lambda; locally stdout stays free for
//! results). Level from `RUST_LOG`, default `info`.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stderr);
    // A second init (tests, harness) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry().with(json).with(filter).try_init();
}

/// `RUST_LOG` as a level and per-target levels (`info`, `warn,shared=debug`); unset or unreadable → `info`. (The
/// directive language of `EnvFilter` without its span and field matchers, which would link a regex engine.)
fn filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
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

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;

    #[test]
    fn rust_log_sets_levels_and_a_bad_value_falls_back_to_info() {
        assert!(filter(None).would_enable("shared", &Level::INFO));
        assert!(!filter(None).would_enable("shared", &Level::DEBUG));
        let f = filter(Some("warn,shared=debug"));
        assert!(f.would_enable("shared::adapters", &Level::DEBUG));
        assert!(!f.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(filter(Some("shared=loud")).would_enable("x", &Level::INFO));
    }
}
