//! The AWS SDK configuration every function and local tool loads: retries and timeouts chosen for a Lambda that
//! talks to DynamoDB, SQS and Secrets Manager in its own region (docs/DESIGN.md §12), instead of the SDK defaults
//! (3 attempts from a 1 s initial backoff, no attempt or operation timeout).
//!
//! * **Standard retry mode, 5 attempts, backoff from 50 ms, at most 1 s.** The SDK retries throttling
//!   (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`), 5xx and transport
//!   errors with full jitter. DynamoDB recommends a base of tens of milliseconds for throttling; a 1 s initial
//!   backoff would spend a third of the orchestrator's 30 s timeout on one retry. Five attempts at 20 % injected
//!   faults leave 0.2⁵ ≈ 0.03 % of calls failing through to the code (which then answers as for any store error:
//!   the delivery is retried, the sweeper repairs). Worst case ≈ 4 s of backoff per call. The standard mode's retry
//!   token bucket stops retries when a dependency is failing wholesale, so a whole outage fails fast.
//! * **Timeouts**: connect 3 s, one attempt 5 s, the whole operation with its retries 15 s — under half the
//!   orchestrator's and sweeper's Lambda timeouts, so a hung call ends as an error the handler can report per
//!   record (a partial batch failure) instead of a timed-out invocation that returns the whole batch.
//! * **TLS roots compiled in**: the five roots AWS endpoints chain to ([`AWS_ROOTS_PEM`]) instead of the platform
//!   store, which the SDK's default client reads from disk at every cold start (a directory of files on some
//!   systems). The Telegram and Crypto.com clients (reqwest, `http.rs`) trust Mozilla's whole list, compiled in.
//!   `TEST_CA_FILE` adds test-only authorities to both, and only beside a local endpoint ([`test_ca_pem`]).
//! * **Not retried by the SDK, on purpose**: conditional-check failures (answers, not faults) and
//!   `TransactionCanceledException` with `TransactionConflict`, which the claim retries itself, a few times with
//!   jitter (`dynamodb::claim_transaction`). A retried write whose first attempt was applied but whose answer was
//!   lost comes back as a failed condition; the code reads that as "someone holds it" and the lease or the sweeper
//!   resolves it (proved by the fault-injection test).

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

pub const MAX_ATTEMPTS: u32 = 5;
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// The retry policy described in the module docs.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// The timeouts described in the module docs.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The roots AWS service endpoints chain to, compiled in: Amazon Trust Services' Amazon Root CA 1–4 and the Starfield
/// Services Root G2 that cross-signs them (the certificates of Mozilla's list, as `webpki-root-certs` ships them;
/// a unit test checks each against that list). The SDK's clients talk to AWS endpoints only (DynamoDB, SQS,
/// Secrets Manager), which serve Amazon Trust Services certificates; trusting those five instead of all ≈150
/// Mozilla roots narrows what the functions trust and saves parsing 150 PEM certificates at every cold start (≈8
/// million instructions, two thirds of the init's; docs/PERFORMANCE.md). Expiry: 2037 (Starfield G2), 2038 (1–4).
const AWS_ROOTS_PEM: &str = include_str!("aws-roots.pem");

fn trust_store() -> TrustStore {
    let store = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS_PEM);
    match test_ca_pem() {
        Some(pem) => store.with_pem_certificate(pem),
        None => store,
    }
}

/// The test setting `TEST_CA_FILE`: a PEM file of certificate authorities trusted beside the compiled-in roots, by
/// the SDK's client and by the Crypto.com and Telegram client (`http.rs`) — a local TLS-terminating proxy's CA, so
/// a function can be measured with every endpoint behind TLS (docs/PERFORMANCE.md, "Cold start over TLS"). Honoured
/// only while `AWS_ENDPOINT_URL` is on this machine ([`local_endpoint`]): beside a real endpoint it is ignored with
/// a warning, so it can never widen what a deployed function trusts. Read once, at the first client built (init).
pub fn test_ca_pem() -> Option<&'static str> {
    static PEM: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PEM.get_or_init(|| {
        let path = env_var("TEST_CA_FILE")?;
        if !local_endpoint() {
            tracing::warn!(path, "TEST_CA_FILE ignored: AWS_ENDPOINT_URL is not a local endpoint");
            return None;
        }
        match std::fs::read_to_string(&path) {
            Ok(pem) => {
                tracing::info!(path, "trusting the test CA of TEST_CA_FILE (a local endpoint)");
                Some(pem)
            }
            Err(e) => {
                tracing::warn!(path, error = %e, "TEST_CA_FILE unreadable; not trusted");
                None
            }
        }
    })
    .as_deref()
}

/// The SDK's HTTPS client over the compiled-in roots; `None` (not expected: the list is fixed at build time) leaves
/// the SDK's default client, which still works.
fn https_client() -> Option<SharedHttpClient> {
    match TlsContext::builder().with_trust_store(trust_store()).build() {
        Ok(context) => Some(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(context)
                .build_https(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "compiled-in TLS roots refused; using the SDK's default HTTPS client");
            None
        }
    }
}

/// A loader with this project's retries, timeouts and HTTPS client; region, credentials and endpoints come from the
/// SDK's default chains (variables, profile files, SSO, IMDS, `AWS_ENDPOINT_URL*`): what the local tools and tests
/// use. Tests add an endpoint override.
pub fn loader() -> ConfigLoader {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    match https_client() {
        Some(client) => loader.http_client(client),
        None => loader,
    }
}

/// The local tools' configuration, loaded once ([`loader`]), with [`local_credentials`] and [`local_region`] when
/// the endpoint is the local emulator and the environment names none.
pub async fn load() -> SdkConfig {
    with_local_defaults(loader()).load().await
}

/// `loader` with [`local_credentials`] and [`local_region`] where they apply.
pub fn with_local_defaults(mut loader: ConfigLoader) -> ConfigLoader {
    if let Some(credentials) = local_credentials() {
        loader = loader.credentials_provider(credentials);
    }
    if let Some(region) = local_region() {
        loader = loader.region(region);
    }
    loader
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `AWS_ENDPOINT_URL` is on this machine (the local emulator, or a TLS proxy in front of it): no AWS account is
/// ever behind it.
pub fn local_endpoint() -> bool {
    env_var("AWS_ENDPOINT_URL").is_some_and(|url| is_local(&url))
}

/// `url` names this machine, over HTTP or HTTPS, with a port.
pub fn is_local(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or_default();
    ["127.0.0.1:", "localhost:", "[::1]:"]
        .iter()
        .any(|local| rest.starts_with(local))
}

/// The region a local endpoint is used in when the environment names none.
pub const LOCAL_REGION: &str = "us-east-1";

/// Placeholder credentials for a local endpoint when the environment has none — so `AWS_ENDPOINT_URL` alone is
/// enough to run against the emulator, instead of the SDK probing for an instance role (denied) — and None otherwise
/// (a real endpoint always takes the SDK's own chains).
pub fn local_credentials() -> Option<aws_credential_types::Credentials> {
    (local_endpoint() && env_var("AWS_ACCESS_KEY_ID").is_none())
        .then(|| aws_credential_types::Credentials::new("local", "local", None, None, "local-endpoint"))
}

/// [`LOCAL_REGION`] for a local endpoint when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
pub fn local_region() -> Option<Region> {
    (local_endpoint() && env_var("AWS_REGION").is_none() && env_var("AWS_DEFAULT_REGION").is_none())
        .then(|| Region::new(LOCAL_REGION))
}

/// What each function loads at init: this module's retries, timeouts and HTTPS client, with the region and the
/// credentials from the variables Lambda sets (`AWS_REGION`; `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN` of the function's role) and `AWS_ENDPOINT_URL` when set (the local stack, where
/// [`local_credentials`] and [`local_region`] stand in for what the environment lacks). Built without the
/// SDK's default chains — profile files, SSO, STS web identity, IMDS — which a Lambda never reaches: ≈0.4 MB less
/// per bootstrap and nothing to probe at cold start (docs/PERFORMANCE.md). The runtime tests start every function
/// binary on it.
pub fn lambda() -> SdkConfig {
    let var = env_var;
    let credentials = match local_credentials() {
        Some(local) => SharedCredentialsProvider::new(local),
        None => SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
    };
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).map(Region::new);
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region.or_else(local_region))
        .credentials_provider(credentials)
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .time_source(SharedTimeSource::default());
    config.set_sleep_impl(default_async_sleep());
    config.set_http_client(https_client());
    config.set_endpoint_url(var("AWS_ENDPOINT_URL"));
    config.build()
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    use super::*;

    #[test]
    fn only_this_machine_is_local() {
        for url in ["http://127.0.0.1:4566", "https://localhost:8443", "http://[::1]:4566"] {
            assert!(is_local(url), "{url}");
        }
        for url in [
            "https://dynamodb.us-east-1.amazonaws.com",
            "https://localhost.example.com:443",
            "http://127.0.0.1.example.com:80",
            "ftp://127.0.0.1:21",
            "",
        ] {
            assert!(!is_local(url), "{url}");
        }
    }

    #[test]
    fn the_aws_roots_are_the_five_amazon_trust_services_roots_of_the_mozilla_list() {
        let certs: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(AWS_ROOTS_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.len(), 5);
        let names = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        for (cert, name) in certs.iter().zip(names) {
            assert!(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.contains(cert),
                "{name} is not in Mozilla's list"
            );
            let der = cert.as_ref();
            assert!(der.windows(name.len()).any(|w| w == name.as_bytes()), "expected {name}");
        }
        assert!(TlsContext::builder().with_trust_store(trust_store()).build().is_ok());
    }
}
