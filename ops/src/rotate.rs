//! `ops rotate exchange --key-file F | diagnostics`: rotates a stack's key in the one safe order. The functions read
//! their secrets once, at their cold start, so a new secret value alone changes nothing until they restart; and an
//! exchange key the exchange refuses would stop every order. So:
//!
//! 1. **exchange**: the new key (created on Crypto.com beforehand, trade permission only; the old one still valid) is
//!    checked first with a signed private read (`private/get-open-orders`) — refused or unanswered, nothing changes;
//!    **diagnostics**: a new random key is made.
//! 2. The secret gets the new value (Secrets Manager keeps the old one as `AWSPREVIOUS`, to roll back to).
//! 3. Every function holding the key is restarted — its configuration gains `SECRETS_ROTATED_AT`, so new containers
//!    start with the new value — and each is waited for.
//! 4. Only then does it say the old key may go: for the exchange, delete the old key on Crypto.com now.
//!
//! The secrets are `EXCHANGE_SECRET_ID` / `DIAGNOSTICS_SECRET_ID` and the functions `ORCHESTRATOR_FUNCTION`,
//! `SWEEPER_FUNCTION` / `DIAGNOSTICS_FUNCTION`, `AUTHORIZER_FUNCTION`, `TELEGRAM_WEBHOOK_FUNCTION` (the stack
//! outputs). A key never goes on the command line (shell history): the exchange key is read from a file or stdin.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use shared::adapters::exchange::build;
use shared::adapters::secrets::SecretString;
use shared::config::{ProcessEnv, TradingConfig};
use shared::order::ExecutionMode;

use crate::stack;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand)]
enum Which {
    /// The Crypto.com API key: checked on the exchange, stored, the orchestrator and the sweeper restarted
    Exchange {
        /// A JSON file {"api_key": …, "api_secret": …}, or - for stdin (never the key itself on the command line)
        #[arg(long)]
        key_file: PathBuf,
    },
    /// The diagnostics API key (it also signs /page links): made, stored, the API's functions restarted
    Diagnostics,
}

pub async fn run(args: &Args) -> Result<ExitCode, String> {
    let aws = shared::adapters::aws::load().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let lambda = aws_sdk_lambda::Client::new(&aws);
    let (secret_id, value, functions) = match &args.which {
        Which::Exchange { key_file } => {
            let functions = [
                stack::setting("ORCHESTRATOR_FUNCTION", "OrchestratorFunctionName")?,
                stack::setting("SWEEPER_FUNCTION", "SweeperFunctionName")?,
            ];
            let secret_id = stack::setting("EXCHANGE_SECRET_ID", "ExchangeSecretName")?;
            let value = exchange_key(key_file).await?;
            (secret_id, value, functions.to_vec())
        }
        Which::Diagnostics => {
            let functions = [
                stack::setting("DIAGNOSTICS_FUNCTION", "DiagnosticsFunctionName")?,
                stack::setting("AUTHORIZER_FUNCTION", "AuthorizerFunctionName")?,
                stack::setting("TELEGRAM_WEBHOOK_FUNCTION", "TelegramWebhookFunctionName")?,
            ];
            let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            let value = serde_json::json!({ "api_key": key }).to_string();
            (
                stack::setting("DIAGNOSTICS_SECRET_ID", "DiagnosticsSecretName")?,
                value,
                functions.to_vec(),
            )
        }
    };
    let version = secrets
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| format!("the secret {secret_id} was not changed: {}", stack::error_chain(&e)))?
        .version_id
        .unwrap_or_default();
    eprintln!("2. {secret_id}: the new value is current (version {version}); the old one is AWSPREVIOUS");
    for f in &functions {
        restart(&lambda, f, &version).await.map_err(|e| {
            format!(
                "{e}. The secret is rotated: restart {} by hand before retiring the old key",
                functions.join(", ")
            )
        })?;
        eprintln!("3. {f}: restarted; new containers read the new value");
    }
    match args.which {
        Which::Exchange { .. } => {
            println!("Rotated. 4. Now delete the OLD key on Crypto.com: nothing uses it any more.")
        }
        Which::Diagnostics => println!(
            "Rotated. 4. The old diagnostics key and every /page link are void; read the new key from {secret_id}."
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The new exchange key from `file`, checked with a signed private read on the exchange the stack trades on
/// (`EXCHANGE`, `EXCHANGE_BASE_URL`, `EXCHANGE_TIMEOUT_MS`: the client the orchestrator builds, with this key).
async fn exchange_key(file: &PathBuf) -> Result<String, String> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?
    };
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|_| "the key file is not a JSON object {\"api_key\", \"api_secret\"}")?;
    let fields: BTreeMap<String, SecretString> = object
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), SecretString::new(v.as_str()?.to_string()))))
        .collect();
    let mut config = TradingConfig::from_source(&ProcessEnv).map_err(|e| e.to_string())?;
    config.mode = ExecutionMode::Live;
    let exchange = build(
        &config,
        Some(fields.clone()),
        std::sync::Arc::new(shared::adapters::clock::SystemClock),
    )
    .map_err(|e| format!("the key file: {e}"))?;
    match exchange.open_orders().await {
        Ok(open) => eprintln!(
            "1. the exchange accepts the new key (a signed read: {} open orders)",
            open.len()
        ),
        Err(e) => {
            return Err(format!(
                "the new key did not pass a signed read on the exchange ({e}): nothing changed"
            ))
        }
    }
    let field = |name: &str| fields.get(name).map_or("", SecretString::expose);
    Ok(serde_json::json!({ "api_key": field("api_key"), "api_secret": field("api_secret") }).to_string())
}

/// Restarts `function` (its configuration gains `SECRETS_ROTATED_AT`) and waits until the update is done.
async fn restart(lambda: &aws_sdk_lambda::Client, function: &str, version: &str) -> Result<(), String> {
    let failed = |e: &dyn std::error::Error| format!("{function} was not restarted: {}", stack::error_chain(e));
    let config = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| failed(&e))?;
    let mut variables = config.environment.and_then(|e| e.variables).unwrap_or_default();
    variables.insert(
        "SECRETS_ROTATED_AT".into(),
        format!("{} {version}", chrono::Utc::now().to_rfc3339()),
    );
    let environment = aws_sdk_lambda::types::Environment::builder()
        .set_variables(Some(variables))
        .build();
    lambda
        .update_function_configuration()
        .function_name(function)
        .environment(environment)
        .send()
        .await
        .map_err(|e| failed(&e))?;
    for _ in 0..120 {
        let now = lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| failed(&e))?;
        match now.last_update_status {
            Some(aws_sdk_lambda::types::LastUpdateStatus::InProgress) => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            Some(aws_sdk_lambda::types::LastUpdateStatus::Failed) => {
                return Err(format!(
                    "{function}: its update failed: {}",
                    now.last_update_status_reason.unwrap_or_default()
                ))
            }
            _ => return Ok(()),
        }
    }
    Err(format!("{function}: its update did not finish within a minute"))
}
