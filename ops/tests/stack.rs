//! `ops` against a stack: the local emulator (its tables made by the test harness, their names given to the command
//! as a deployment's stack outputs would be), and without one.

use std::process::{Command, Output};

use tests::TestEnv;

fn ops(env: Option<&TestEnv>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ops"));
    cmd.args(args);
    if let Some(env) = env {
        let t = &env.p.tables;
        cmd.env("SIGNALS_TABLE", &t.signals)
            .env("ORDER_INTENTS_TABLE", &t.intents)
            .env("ALERTS_TABLE", &t.alerts)
            .env("WATCHLIST_TABLE", &t.watchlist)
            .env("RISK_TABLE", &t.risk);
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn limits(env: &TestEnv) -> serde_json::Value {
    serde_json::from_str(&stdout(&ops(Some(env), &["trading", "limits", "get"]))).unwrap()
}

/// A command aimed at a deployment (no local endpoint) without its table names says which stack outputs to set, in
/// one line, before any request — instead of reaching for tables named like the local stack's.
#[test]
fn a_command_without_its_tables_names_the_settings() {
    for (args, var) in [
        (&["trading", "status"][..], "RISK_TABLE"),
        (&["watchlist", "list"][..], "WATCHLIST_TABLE"),
        (&["report"][..], "SIGNALS_TABLE"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(args)
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove(var)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&format!("{var} (the stack output")), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}

/// Every command and subcommand answers --help with its usage, and a blank halt reason is refused before any request.
#[test]
fn every_command_answers_help_and_refuses_what_it_does_not_know() {
    for args in [
        &["--help"][..],
        &["trading", "--help"],
        &["trading", "limits", "set", "--help"],
        &["watchlist", "--help"],
        &["reconcile", "--help"],
        &["report", "--help"],
        &["dlq", "redrive", "--help"],
        &["rotate", "exchange", "--help"],
        &["replay", "--help"],
    ] {
        let out = ops(None, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: ops"), "{args:?}");
    }
    for args in [
        &["trading", "halt", "--reason", " "][..],
        &["trading", "pause"],
        &["reconcile", "--hours", "0"],
        &["--no-such-option"],
    ] {
        let out = ops(None, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(err.starts_with("error: ") && err.contains("--help"), "{args:?}: {err}");
    }
}

/// `limits set` patches: the settings it names change, every other (the circuit breaker above all) stays as it was;
/// `null` clears one; an unknown name is refused and changes nothing.
#[tokio::test]
async fn limits_set_changes_only_the_settings_it_names() {
    let env = TestEnv::new("ops-limits").await;
    let before = limits(&env);
    let breaker = before["breaker_failures"].clone();
    assert!(breaker.as_u64().is_some(), "the breaker is on by default: {before}");
    stdout(&ops(
        Some(&env),
        &["trading", "limits", "set", r#"{"max_order_usd": "250"}"#],
    ));
    stdout(&ops(
        Some(&env),
        &["trading", "limits", "set", r#"{"max_orders_per_day": 3}"#],
    ));
    let after = limits(&env);
    assert_eq!(after["max_orders_per_day"], 3, "{after}");
    assert_eq!(after["max_order_usd"], "250", "{after}");
    assert_eq!(after["breaker_failures"], breaker, "the breaker as it was: {after}");
    let refused = ops(
        Some(&env),
        &["trading", "limits", "set", r#"{"max_orders_per_dya": 1}"#],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("max_orders_per_dya"));
    assert_eq!(limits(&env), after, "a refused patch changes nothing");
    stdout(&ops(
        Some(&env),
        &["trading", "limits", "set", r#"{"max_order_usd": null}"#],
    ));
    assert!(limits(&env)["max_order_usd"].is_null());
}

/// Halt and resume through the command, seen in `status`; the report of the stack says it is halted and passes.
#[tokio::test]
async fn halt_resume_and_the_report_of_a_stack() {
    let env = TestEnv::new("ops-halt").await;
    let halted = stdout(&ops(
        Some(&env),
        &[
            "trading",
            "halt",
            "--reason",
            "exchange maintenance",
            "--by",
            "ops-test",
        ],
    ));
    assert!(
        halted.contains("HALTED") && halted.contains("exchange maintenance"),
        "{halted}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&ops(Some(&env), &["report", "--hours", "2"]))).unwrap();
    assert_eq!(report["pass"], true, "{report}");
    assert_eq!(report["trading"]["halted"], true, "{report}");
    let bad = ops(Some(&env), &["report", "--hours", "9999"]);
    assert_eq!(bad.status.code(), Some(2), "the API's own limits");
    let resumed = stdout(&ops(Some(&env), &["trading", "resume"]));
    assert!(!resumed.contains("HALTED"), "{resumed}");
}

/// The watchlist: a dry run writes nothing, a wrong row is refused with its problems, a row added is listed.
#[tokio::test]
async fn watchlist_rows_are_validated_before_anything_is_written() {
    let env = TestEnv::new("ops-watchlist").await;
    let row = r#"{"symbol":"BTC_USDT","preset":"swing-aggressive","trade_amount_usd":"100"}"#;
    stdout(&ops(Some(&env), &["watchlist", "--dry-run", "add", row]));
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&ops(Some(&env), &["watchlist", "list"]))).unwrap();
    assert!(listed.is_empty(), "a dry run writes nothing: {listed:?}");
    let wrong = ops(
        Some(&env),
        &["watchlist", "add", r#"{"symbol":"BTC_USDT","preset":"no-such-preset"}"#],
    );
    assert_eq!(wrong.status.code(), Some(2));
    stdout(&ops(Some(&env), &["watchlist", "add", row]));
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&ops(Some(&env), &["watchlist", "list"]))).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["symbol"], "BTC_USDT");
}

/// The dead-letter queue before a redrive: each message with what the orchestrator will make of it (a stale one
/// skipped, never ordered; an unreadable one refused again); `redrive` without `--yes` moves nothing; with it every
/// message is back on the signal queue and the dead-letter queue is empty.
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
#[tokio::test]
async fn the_dead_letter_queue_says_which_signals_a_redrive_would_find_stale_then_moves_them() {
    use rust_decimal::Decimal;
    use shared::ids::{Side, Symbol};
    let env = TestEnv::new("ops-dlq").await;
    let sqs = env.sqs();
    let now = chrono::Utc::now();
    let symbol = Symbol::parse("ETH_BTC").unwrap();
    let fresh = shared::fakes::sent_signal(&symbol, Side::Buy, 1, Decimal::new(921, 4), now);
    let old = now - chrono::Duration::hours(2);
    let stale = shared::fakes::sent_signal(&symbol, Side::Sell, 2, Decimal::new(921, 4), old);
    for body in [
        serde_json::to_string(&fresh.to_message()).unwrap(),
        serde_json::to_string(&stale.to_message()).unwrap(),
        "{not a signal".to_string(),
    ] {
        sqs.send_message()
            .queue_url(&env.p.dlq_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let dlq = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ops"))
            .arg("dlq")
            .args(args)
            .env("SIGNALS_QUEUE_URL", &env.p.queue_url)
            .env("SIGNALS_DLQ_URL", &env.p.dlq_url)
            .output()
            .unwrap()
    };
    let listed = stdout(&dlq(&["list"]));
    let line = |id: &str| {
        listed
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id}: {listed}"))
    };
    assert!(line(fresh.signal_id.as_str()).contains("will be decided"), "{listed}");
    assert!(
        line(stale.signal_id.as_str()).contains("STALE: will be SKIPPED as STALE_SIGNAL"),
        "{listed}"
    );
    assert!(listed.contains("unreadable"), "{listed}");
    let count = |url: String| {
        let sqs = sqs.clone();
        async move {
            let a = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .unwrap();
            a.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages].clone()
        }
    };
    let dry = dlq(&["redrive"]);
    let said = String::from_utf8_lossy(&dry.stderr);
    assert!(
        said.contains("3 message(s) in the dead-letter queue, 1 of them stale") && said.contains("nothing moved"),
        "{said}"
    );
    assert_eq!(count(env.p.queue_url.clone()).await, "0");
    stdout(&dlq(&["redrive", "--yes"]));
    assert_eq!(count(env.p.queue_url.clone()).await, "3");
    assert_eq!(count(env.p.dlq_url.clone()).await, "0");
}
