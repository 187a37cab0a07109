//! The local harness: provisioning of the emulator (`provision`), Lambda's SQS event source mapping (`esm`), and
//! the environment every local run uses (`local_env`). The binaries `local-stack` and `pipeline` and the
//! integration tests in `tests/` are built on it.

pub mod cost;
pub mod esm;
pub mod exchange;
pub mod faults;
pub mod http;
pub mod measure;
pub mod opcount;
pub mod openapi;
pub mod provision;
pub mod runtime_api;
pub mod scale;
pub mod template;
pub mod tls;

/// Loads the AWS SDK config with the functions' retries and timeouts and the SDK's default chains (the local tools
/// also run against a deployment); endpoints come from the standard `AWS_ENDPOINT_URL*` variables.
pub async fn aws() -> aws_config::SdkConfig {
    shared::adapters::aws::load().await
}

/// [`aws`] with longer timeouts, for the clients a test builds on its [`TestEnv`]: the emulator serves every request
/// behind one lock, so while the whole suite runs a call can wait behind other tests' transactions for longer than
/// the functions' 5 s attempt timeout (a put of the reads test once failed that way). The functions' own timeouts
/// are what the runtime tests load, from the variables as deployed.
pub async fn emulator_aws() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(shared::adapters::aws::CONNECT_TIMEOUT)
        .operation_attempt_timeout(std::time::Duration::from_secs(30))
        .operation_timeout(std::time::Duration::from_secs(90))
        .build();
    shared::adapters::aws::with_local_defaults(shared::adapters::aws::loader().timeout_config(timeouts))
        .load()
        .await
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
    /// The namespace's unique prefix (`{prefix}signals`, …), for what a test names beside it.
    pub prefix: String,
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
        let aws = emulator_aws().await;
        let qname = format!("{prefix}signals");
        let spec = queue.map(|(visibility_timeout_s, max_receive_count)| provision::QueueSpec {
            name: &qname,
            visibility_timeout_s,
            max_receive_count,
        });
        let p = provision::all(&aws, &prefix, spec)
            .await
            .expect("provisioning the emulator");
        TestEnv { aws, p, prefix }
    }

    pub fn store(&self) -> shared::adapters::dynamodb::DynamoStore {
        shared::adapters::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.aws), self.p.tables.clone())
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.aws)
    }
}
