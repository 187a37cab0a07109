//! Each function's built binary, started the way Lambda starts it (a local Runtime API, the standard Lambda
//! variables, its configuration from the environment, its secrets from Secrets Manager in the emulator), fed every
//! sample event in `events/` — the responses asserted. This is the bootstrap `sam build` ships, minus the target.
//! The binaries come from `cargo build --workspace --bins` (./scripts/test.sh runs it first).

use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use chrono::DateTime;
use rust_decimal::Decimal;
use shared::ids::{Side, Symbol};
use shared::ports::{ControlStore, SignalStore};
use tests::runtime_api::{function_env, shipped_candles, workspace_binary, Function, Invocation, RuntimeApi};
use tests::TestEnv;

const WAIT: Duration = Duration::from_secs(30);

fn event(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Starts `name`'s binary against a fresh Runtime API.
async fn start(name: &str, env: &TestEnv, extra: &[(&'static str, String)]) -> (RuntimeApi, Function) {
    let binary = workspace_binary(name);
    assert!(
        binary.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first (./scripts/test.sh does)",
        binary.display()
    );
    let api = RuntimeApi::start().await.unwrap();
    let mut vars = function_env(&env.p);
    vars.extend(extra.iter().cloned());
    let f = Function::start(&binary, &api, name, &vars, &log_path(name)).unwrap();
    (api, f)
}

/// Where a function's stderr (its JSON log lines) goes; one file per function and test process.
fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "runtime-{name}-{}-{:?}.log",
        std::process::id(),
        std::thread::current().id()
    ))
}

/// The reason code of the signal row's decision (the test fails if it has none).
async fn decided(env: &TestEnv, signal: &shared::signal::SignalRecord) -> shared::decision::ReasonCode {
    let row = env
        .store()
        .get_signals(std::slice::from_ref(&signal.signal_id))
        .await
        .unwrap()
        .remove(0);
    row.decision.expect("a decision").reason_code
}

fn response(outcome: Invocation) -> serde_json::Value {
    match outcome {
        Invocation::Response(v) => v,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[tokio::test]
async fn the_orchestrator_binary_answers_sqs_batches_with_partial_failures() {
    let env = TestEnv::new("rtorch").await;
    // The signal row the sample's good record names (emitted 2026-11-26T01:00:00Z: stale by now, so SKIPPED).
    let emitted = DateTime::parse_from_rfc3339("2026-11-26T01:00:00Z").unwrap().to_utc();
    let sym = Symbol::parse("ETH_BTC").unwrap();
    let signal = shared::fakes::sent_signal(&sym, Side::Buy, 1_516_579_200_000, Decimal::new(921, 4), emitted);
    env.store().put_new(&signal).await.unwrap();
    let (api, _f) = start("orchestrator", &env, &[("PAPER_USD_PRICES", "BTC=12000".into())]).await;

    let first = response(api.invoke(&event("orchestrator-sqs.json"), WAIT).await.unwrap());
    let failed: Vec<&str> = first["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    assert_eq!(failed, ["bad-version-0002", "not-json-0003"], "{first}");

    // A batch with the good record twice and a malformed one: the duplicate is acknowledged, one decision.
    let second = response(
        api.invoke(&event("orchestrator-sqs-duplicate.json"), WAIT)
            .await
            .unwrap(),
    );
    assert_eq!(second["batchItemFailures"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(decided(&env, &signal).await, shared::decision::ReasonCode::StaleSignal);
}

#[tokio::test]
async fn the_diagnostics_binary_answers_each_sample_request() {
    let env = TestEnv::new("rtdiag").await;
    let (api, _f) = start("diagnostics", &env, &[]).await;
    for (file, status) in [
        ("diagnostics-request.json", 200),
        ("diagnostics-bad-request.json", 400),
        ("diagnostics-missing-key.json", 401),
        ("diagnostics-unknown-path.json", 404),
        ("diagnostics-wrong-method.json", 405),
    ] {
        let r = response(api.invoke(&event(file), WAIT).await.unwrap());
        assert_eq!(r["statusCode"], status, "{file}: {r}");
        let body: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        if status == 200 {
            assert_eq!(body["pass"], true, "{body}");
            assert_eq!(body["trading"]["halted"], false, "{body}");
        } else {
            assert!(body["error"].is_string(), "{file}: a JSON error: {body}");
        }
    }
}

#[tokio::test]
async fn the_scheduled_binaries_run_their_schedule_events() {
    let env = TestEnv::new("rtsched").await;
    let (evaluator, _e) = start(
        "evaluator",
        &env,
        &[("MARKET_DATA", "replay".into()), shipped_candles()],
    )
    .await;
    let run = response(evaluator.invoke(&event("evaluator-schedule.json"), WAIT).await.unwrap());
    assert_eq!(run["symbols"], 0, "an empty watchlist is an empty run: {run}");
    // A symbol the replay has no candles for: counted and logged, and the invocation still succeeds — a failed
    // asynchronous invocation would be re-run, repeating every symbol's work.
    let missing = shared::watchlist::WatchlistEntry::new(shared::ids::Symbol::parse("DOGE_USDT").unwrap());
    let ddb = aws_sdk_dynamodb::Client::new(&env.aws);
    tests::provision::seed_watchlist(&ddb, &env.p.tables.watchlist, &[missing])
        .await
        .unwrap();
    let run = response(evaluator.invoke(&event("evaluator-schedule.json"), WAIT).await.unwrap());
    assert_eq!(
        (run["symbols"].as_u64(), run["errors"].as_u64()),
        (Some(1), Some(1)),
        "{run}"
    );
    let (sweeper, _s) = start("sweeper", &env, &[]).await;
    let sweep = response(sweeper.invoke(&event("sweeper-schedule.json"), WAIT).await.unwrap());
    assert_eq!(sweep["pass"], true, "{sweep}");
}

#[tokio::test]
async fn the_telegram_webhook_binary_halts_trading_from_the_sample_update() {
    let env = TestEnv::new("rthook").await;
    let sink = support::Sink::start().await;
    let (api, _f) = start(
        "telegram-webhook",
        &env,
        &[("TELEGRAM_API_BASE_URL", sink.base.clone())],
    )
    .await;
    let r = response(api.invoke(&event("telegram-webhook-halt.json"), WAIT).await.unwrap());
    assert_eq!(r["statusCode"], 200, "{r}");
    let halt = env.store().control().await.unwrap().halt.expect("halted");
    assert_eq!(
        (halt.reason.as_str(), halt.by.as_str()),
        ("exchange maintenance", "@ops")
    );
    assert!(sink.texts().await[0].contains("Trading HALTED by @ops"));
}

#[tokio::test]
async fn a_function_whose_secret_cannot_be_read_fails_its_cold_start_with_a_clear_message() {
    let env = TestEnv::new("rtinit").await;
    let (api, mut f) = start(
        "diagnostics",
        &env,
        &[("DIAGNOSTICS_SECRET_ID", "no-such-secret".into())],
    )
    .await;
    let status = f.exited_within(WAIT).await.expect("the bootstrap exits");
    assert!(!status.success());
    let log = std::fs::read_to_string(log_path("diagnostics")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("cold start failed"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("secret no-such-secret") && line.contains("ResourceNotFoundException"),
        "{line}"
    );
    // Nothing was polled: an event waits in vain.
    assert!(api
        .invoke(&event("diagnostics-request.json"), Duration::from_millis(300))
        .await
        .is_err());
}

/// A live stack whose exchange secret still holds the template's placeholder (a new `live` stack before anyone put
/// the keys in) refuses to start, with one line naming the secret and the field — not a first order refused with
/// an authentication error.
#[tokio::test]
async fn live_mode_with_the_placeholder_exchange_secret_fails_its_cold_start() {
    let env = TestEnv::new("rtlive").await;
    let secret_id = format!("rtlive-{}/exchange", std::process::id());
    aws_sdk_secretsmanager::Client::new(&env.aws)
        .create_secret()
        .name(&secret_id)
        .secret_string(r#"{"api_key":"REPLACE_ME","api_secret":"generated-at-deploy-0123456789"}"#)
        .send()
        .await
        .unwrap();
    let (_api, mut f) = start(
        "orchestrator",
        &env,
        &[
            ("LIVE_TRADING", "true".into()),
            ("EXCHANGE_SECRET_ID", secret_id.clone()),
        ],
    )
    .await;
    let status = f.exited_within(WAIT).await.expect("the bootstrap exits");
    assert!(!status.success());
    let log = std::fs::read_to_string(log_path("orchestrator")).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("cold start failed")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains(&format!(
            "secret {secret_id}: api_key is still the deploy-time placeholder"
        )),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn the_authorizer_binary_admits_the_right_key_only() {
    let env = TestEnv::new("rtauth").await;
    let (api, _f) = start("authorizer", &env, &[]).await;
    let good = response(api.invoke(&event("authorizer-request.json"), WAIT).await.unwrap());
    assert_eq!(good, serde_json::json!({ "isAuthorized": true }));
    let mut wrong: serde_json::Value = serde_json::from_slice(&event("authorizer-request.json")).unwrap();
    wrong["headers"]["x-diagnostics-key"] = "guess-guess-guess-guess".into();
    let refused = response(api.invoke(wrong.to_string().as_bytes(), WAIT).await.unwrap());
    assert_eq!(refused, serde_json::json!({ "isAuthorized": false }));
}

/// Every AWS endpoint behind TLS (a local proxy in front of the emulator, its CA made for this test): the
/// orchestrator that trusts the CA through `TEST_CA_FILE` places a fresh signal's order over TLS; one that does not
/// trust it fails its cold start on the certificate, never falling back to plain HTTP.
#[tokio::test]
async fn the_orchestrator_over_tls_trusts_the_test_ca_and_no_unknown_one() {
    use tests::tls::{Keys, TestCa, TlsProxy};
    let env = TestEnv::new("rttls").await;
    let ca = TestCa::generate(Keys::Ecdsa).unwrap();
    let ca_file = ca.write_root("rttls-ca").unwrap();
    let proxy = TlsProxy::start(&ca, &std::env::var("AWS_ENDPOINT_URL").unwrap())
        .await
        .unwrap();
    let sym = Symbol::parse("ETH_BTC").unwrap();
    let signal = shared::fakes::sent_signal(
        &sym,
        Side::Buy,
        1_700_000_000_000,
        Decimal::new(921, 4),
        chrono::Utc::now(),
    );
    env.store().put_new(&signal).await.unwrap();
    let over_tls = [
        ("AWS_ENDPOINT_URL", proxy.url.clone()),
        ("PAPER_USD_PRICES", "BTC=12000".to_string()),
        ("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9".to_string()),
    ];

    let mut trusting = over_tls.to_vec();
    trusting.push(("TEST_CA_FILE", ca_file.display().to_string()));
    let (api, _f) = start("orchestrator", &env, &trusting).await;
    let answer = response(
        api.invoke(&tests::runtime_api::sqs_event(&[signal.to_message().to_json()]), WAIT)
            .await
            .unwrap(),
    );
    assert_eq!(
        answer["batchItemFailures"].as_array().map(Vec::len),
        Some(0),
        "{answer}"
    );
    assert_eq!(
        decided(&env, &signal).await,
        shared::decision::ReasonCode::ExecOrderPlaced
    );
    assert!(proxy.handshakes() >= 1);

    let (_api, mut f) = start("orchestrator", &env, &over_tls).await;
    let status = f.exited_within(WAIT).await.expect("the bootstrap exits");
    assert!(!status.success());
    let log = std::fs::read_to_string(log_path("orchestrator")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("cold start failed") && l.to_lowercase().contains("certificate")),
        "{log}"
    );
    let _ = std::fs::remove_file(ca_file);
}
