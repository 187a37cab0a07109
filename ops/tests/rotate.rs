//! `ops rotate` against the emulator's Secrets Manager, IAM and Lambda and the Crypto.com stand-in (which checks every
//! signature): a new exchange key the exchange refuses changes nothing; one it accepts is stored, the previous kept,
//! and both functions that hold it are restarted (their configuration gains `SECRETS_ROTATED_AT`).

use std::process::Command;

use aws_sdk_lambda::primitives::Blob;
use tests::exchange::{ExchangeStandIn, API_KEY, API_SECRET};
use tests::TestEnv;

/// The role the functions run as, in the emulator's IAM (created through its query API; it exists once created).
async fn role(env: &TestEnv) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let http = shared::adapters::http::client(std::time::Duration::from_secs(5)).unwrap();
    let form = "Action=CreateRole&Version=2010-05-08&RoleName=local-functions&AssumeRolePolicyDocument=%7B%7D";
    let _ = env; // the role is account-wide, like the emulator's account
    http.post(&endpoint)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    "arn:aws:iam::123456789012:role/local-functions".into()
}

// Two workers: the stand-in exchange answers on this runtime while the test waits for the command.
/// Functions named `names` in the emulator's Lambda, with `variables` in their configuration.
async fn functions(env: &TestEnv, names: &[String], variables: &[(&str, &str)]) {
    let lambda = aws_sdk_lambda::Client::new(&env.aws);
    let role = role(env).await;
    for f in names {
        let mut vars = aws_sdk_lambda::types::Environment::builder();
        for (k, v) in variables {
            vars = vars.variables(*k, *v);
        }
        lambda
            .create_function()
            .function_name(f)
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .role(&role)
            .handler("bootstrap")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(Blob::new(b"code".to_vec()))
                    .build(),
            )
            .environment(vars.build())
            .send()
            .await
            .unwrap();
    }
}

#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_key_is_checked_on_the_exchange_then_stored_then_its_functions_restarted() {
    let env = TestEnv::new("ops-rotate").await;
    let prefix = &env.prefix;
    let sm = aws_sdk_secretsmanager::Client::new(&env.aws);
    let lambda = aws_sdk_lambda::Client::new(&env.aws);
    let secret_id = format!("{prefix}exchange");
    let old = r#"{"api_key":"old-key","api_secret":"old-secret"}"#;
    sm.create_secret()
        .name(&secret_id)
        .secret_string(old)
        .send()
        .await
        .unwrap();
    let functions = [format!("{prefix}orchestrator"), format!("{prefix}sweeper")];
    self::functions(&env, &functions, &[("LIVE_TRADING", "true")]).await;
    let exchange = ExchangeStandIn::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("rotate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rotate = |key: &str, secret: &str| {
        let file = dir.join(format!("{key}.json"));
        std::fs::write(
            &file,
            serde_json::json!({ "api_key": key, "api_secret": secret }).to_string(),
        )
        .unwrap();
        Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(["rotate", "exchange", "--key-file"])
            .arg(&file)
            .env("EXCHANGE_SECRET_ID", &secret_id)
            .env("EXCHANGE_BASE_URL", &exchange.url)
            .env("ORCHESTRATOR_FUNCTION", &functions[0])
            .env("SWEEPER_FUNCTION", &functions[1])
            .output()
            .unwrap()
    };
    let current = || async {
        sm.get_secret_value()
            .secret_id(&secret_id)
            .send()
            .await
            .unwrap()
            .secret_string
            .unwrap()
    };
    let rotated_at = |f: String| {
        let lambda = lambda.clone();
        async move {
            let c = lambda
                .get_function_configuration()
                .function_name(f)
                .send()
                .await
                .unwrap();
            let vars = c.environment.unwrap().variables.unwrap();
            assert_eq!(vars["LIVE_TRADING"], "true", "the other settings are kept");
            vars.get("SECRETS_ROTATED_AT").cloned()
        }
    };

    let refused = rotate("wrong-key", API_SECRET);
    let why = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{why}");
    assert!(
        why.contains("the new key did not pass a signed read on the exchange") && why.contains("nothing changed"),
        "{why}"
    );
    assert_eq!(current().await, old);
    assert_eq!(rotated_at(functions[0].clone()).await, None);

    let done = rotate(API_KEY, API_SECRET);
    let said = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{said}");
    let stored: serde_json::Value = serde_json::from_str(&current().await).unwrap();
    assert_eq!(
        (stored["api_key"].as_str(), stored["api_secret"].as_str()),
        (Some(API_KEY), Some(API_SECRET))
    );
    let previous = sm
        .get_secret_value()
        .secret_id(&secret_id)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .unwrap();
    assert_eq!(
        previous.secret_string.as_deref(),
        Some(old),
        "the old value kept to roll back to"
    );
    for f in &functions {
        assert!(rotated_at(f.clone()).await.is_some(), "{f} restarted");
    }
    // The order it says it in: checked, stored, restarted, and only then the old key may go.
    let steps: Vec<usize> = ["1. the exchange accepts", "2. ", "3. "]
        .iter()
        .map(|s| said.find(s).unwrap())
        .collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{said}");
    assert!(String::from_utf8_lossy(&done.stdout).contains("Now delete the OLD key"));
    assert!(!said.contains(API_SECRET), "the key is never printed: {said}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The diagnostics key: a new random one replaces it, and the three functions that hold it are restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diagnostics_key_is_replaced_and_the_apis_functions_restarted() {
    let env = TestEnv::new("ops-rotate-diag").await;
    let prefix = &env.prefix;
    let sm = aws_sdk_secretsmanager::Client::new(&env.aws);
    let lambda = aws_sdk_lambda::Client::new(&env.aws);
    let secret_id = format!("{prefix}diagnostics");
    sm.create_secret()
        .name(&secret_id)
        .secret_string(r#"{"api_key":"old"}"#)
        .send()
        .await
        .unwrap();
    let names = ["diagnostics", "authorizer", "webhook"].map(|n| format!("{prefix}{n}"));
    functions(&env, &names, &[]).await;
    let out = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(["rotate", "diagnostics"])
        .env("DIAGNOSTICS_SECRET_ID", &secret_id)
        .env("DIAGNOSTICS_FUNCTION", &names[0])
        .env("AUTHORIZER_FUNCTION", &names[1])
        .env("TELEGRAM_WEBHOOK_FUNCTION", &names[2])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value = sm
        .get_secret_value()
        .secret_id(&secret_id)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    let key = serde_json::from_str::<serde_json::Value>(&value).unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        key.len() >= 64 && key.chars().all(|c| c.is_ascii_alphanumeric()),
        "{key}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&key), "never printed");
    for f in &names {
        let c = lambda
            .get_function_configuration()
            .function_name(f)
            .send()
            .await
            .unwrap();
        assert!(
            c.environment
                .and_then(|e| e.variables)
                .is_some_and(|v| v.contains_key("SECRETS_ROTATED_AT")),
            "{f}"
        );
    }
}
