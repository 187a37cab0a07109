//! The local harness: provisioning of the emulator (`provision`), Lambda's SQS event source mapping (`esm`), and
//! the environment every local run uses (`local_env`). The binaries `local-stack` and `pipeline` and the
//! integration tests in `tests/` are built on it.

pub mod esm;
pub mod provision;

/// Loads the AWS SDK config from the environment; endpoints come from the standard `AWS_ENDPOINT_URL*` variables.
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::load_from_env().await
}
