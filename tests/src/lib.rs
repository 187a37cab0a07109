//! The local harness: provisioning of the emulator (`provision`), Lambda's SQS event source mapping (`esm`), and
//! the environment every local run uses (`local_env`). The binaries `local-stack` and `pipeline` and the
//! integration tests in `tests/` are built on it.

pub mod esm;
pub mod exchange;
pub mod faults;
pub mod http;
pub mod opcount;
pub mod openapi;
pub mod provision;
pub mod runtime_api;

/// Loads the AWS SDK config with the functions' retries and timeouts and the SDK's default chains (the local tools
/// also run against a deployment); endpoints come from the standard `AWS_ENDPOINT_URL*` variables.
pub async fn aws() -> aws_config::SdkConfig {
    shared::adapters::aws::load().await
}

/// The tables an operator tool works on. Against a deployment (no `AWS_ENDPOINT_URL`: real AWS) every table it
/// names in `needed` must be set — the stack outputs give them — instead of falling back to the local stack's
/// default names, which would aim at tables that do not exist (or, worse, another stack's). Locally the defaults are
/// the demo's own tables.
pub fn operator_tables(needed: &[(&str, &str)]) -> Result<shared::config::TableNames, String> {
    use shared::config::Source;
    let env = shared::config::ProcessEnv;
    if env.get("AWS_ENDPOINT_URL").is_none() {
        let missing: Vec<String> = needed
            .iter()
            .filter(|(var, _)| env.get(var).is_none())
            .map(|(var, output)| format!("{var} (the stack output {output})"))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "not set: {}. Set them for a deployment, or run the script with --local for the demo's stack.",
                missing.join(", ")
            ));
        }
    }
    shared::config::TableNames::from_source(&env).map_err(|e| e.to_string())
}

/// An error and its causes on one line, as the SDK describes them (no debug dump).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// `GET url` through the adapters' HTTP client (reqwest is built without a default TLS provider).
pub async fn http_get(url: &str) -> Result<reqwest::Response, shared::ports::BoxError> {
    let client = shared::adapters::http::client(std::time::Duration::from_secs(10))?;
    Ok(client.get(url).send().await?)
}

/// An isolated namespace in the local emulator for one integration test: its own tables and queues.
pub struct TestEnv {
    pub aws: aws_config::SdkConfig,
    pub p: provision::Provisioned,
}

impl TestEnv {
    /// Provisions `{unique prefix}` tables and queues. Refuses to run against anything but a loopback endpoint, so
    /// a test can never touch a real account.
    pub async fn new(name: &str) -> TestEnv {
        Self::with_queue(name, None).await
    }

    pub async fn with_queue(name: &str, queue: Option<(u32, u32)>) -> TestEnv {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        assert!(
            endpoint.starts_with("http://127.0.0.1:"),
            "integration tests need the local emulator: run ./scripts/test.sh (AWS_ENDPOINT_URL={endpoint:?})"
        );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let prefix = format!("t{}{}-{name}-", std::process::id(), nanos % 1_000_000_000);
        let aws = aws().await;
        let qname = format!("{prefix}signals");
        let spec = queue.map(|(visibility_timeout_s, max_receive_count)| provision::QueueSpec {
            name: &qname,
            visibility_timeout_s,
            max_receive_count,
        });
        let p = provision::all(&aws, &prefix, spec)
            .await
            .expect("provisioning the emulator");
        TestEnv { aws, p }
    }

    pub fn store(&self) -> shared::adapters::dynamodb::DynamoStore {
        shared::adapters::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.aws), self.p.tables.clone())
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.aws)
    }
}
