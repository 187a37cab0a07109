//! What every stack command needs: the stack's table names and an AWS client configuration, and errors on one line.

use shared::adapters::dynamodb::DynamoStore;
use shared::config::{ProcessEnv, Source, TableNames};

/// The stack setting `var` (the stack output `output` gives it), or an error that names both.
pub fn setting(var: &str, output: &str) -> Result<String, String> {
    ProcessEnv
        .get(var)
        .ok_or(format!("not set: {var} (the stack output {output})"))
}

/// The tables a command works on. Against a deployment (no `AWS_ENDPOINT_URL`: real AWS) every table it names in
/// `needed` (variable, stack output) must be set — instead of falling back to the local stack's default names, which
/// would aim at tables that do not exist (or, worse, another stack's). Locally the defaults are the demo's own.
pub fn tables(needed: &[(&str, &str)]) -> Result<TableNames, String> {
    if ProcessEnv.get("AWS_ENDPOINT_URL").is_none() {
        let missing: Vec<String> = needed
            .iter()
            .filter(|(var, _)| ProcessEnv.get(var).is_none())
            .map(|(var, output)| format!("{var} (the stack output {output})"))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "not set: {}. Set them for a deployment, or run the script with --local for the demo's stack.",
                missing.join(", ")
            ));
        }
    }
    TableNames::from_source(&ProcessEnv).map_err(|e| e.to_string())
}

/// The AWS configuration (the functions' retries and timeouts, the SDK's default chains; endpoints from the standard
/// `AWS_ENDPOINT_URL*` variables) and the store over `tables`.
pub async fn store(tables: TableNames) -> (aws_config::SdkConfig, DynamoStore) {
    let aws = shared::adapters::aws::load().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), tables);
    (aws, store)
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
