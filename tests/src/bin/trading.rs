//! `trading status | halt --reason TEXT [--by WHO] | resume | limits [get] | limits set JSON`: the kill switch and the global risk
//! limits of a deployment (or of the local stack), in its control row (docs/DESIGN.md §11). The table is
//! `RISK_TABLE` (a deployment's stack output `RiskTableName`), AWS credentials and region from the environment.
//!
//! - `status` prints the state (trading or halted: why, by whom, since when), today's orders and reserved notional,
//!   the limits and the circuit breaker;
//! - `halt --reason TEXT` stops trading at the next claim, with no redeploy; `resume` starts it again (and re-arms
//!   the circuit breaker);
//! - `limits` (or `limits get`) prints the global limits as JSON; `limits set JSON` changes only the settings it
//!   names, e.g. `{"max_orders_per_day": 20}` or `{"max_daily_loss_usd": "50", "max_order_usd": null}` (`null`
//!   clears one; `"breaker_failures": null` switches the breaker off; an unknown name is refused). A setting left
//!   out stays as it is. Per-symbol limits are on the watchlist rows (`./scripts/watchlist.sh`).

use std::process::ExitCode;

use shared::adapters::dynamodb::DynamoStore;
use shared::trading::{self, Change};

const USAGE: &str = "usage: trading status | halt --reason TEXT [--by WHO] | resume | limits [get] | limits set JSON

  status            the state (trading or halted: why, by whom, since when), today's orders, the limits
  halt --reason T   stop trading at the next claim, no redeploy (--by WHO: default $USER)
  resume            trade again (re-arms the circuit breaker)
  limits [get]      the global limits as JSON
  limits set JSON   change only the settings named, e.g. '{\"max_orders_per_day\": 20}'; null clears one
                    (\"breaker_failures\": null switches the breaker off); an unknown name is refused

The table is RISK_TABLE (a deployment's stack output RiskTableName); AWS credentials and region from the environment.";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trading: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let tables = tests::operator_tables(&[("RISK_TABLE", "RiskTableName")])?;
    let aws = tests::aws().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), tables.clone());
    let failed = |e: trading::TradingError| tests::error_chain(&e);
    let now = chrono::Utc::now();
    let (command, rest) = args.split_first().ok_or(USAGE)?;
    let change = match (command.as_str(), rest) {
        ("status", []) => {
            println!("{}", trading::status(&store, now).await.map_err(failed)?.text());
            return Ok(());
        }
        ("halt", rest) => {
            let reason = flag(rest, "--reason").ok_or("halt needs --reason TEXT (what an operator reads later)")?;
            let by = flag(rest, "--by")
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "operator".into());
            trading::halt(&store, &reason, &by, now).await.map_err(failed)?
        }
        ("resume", []) => trading::resume(&store).await.map_err(failed)?,
        ("limits", []) | ("limits", [_]) if rest.first().is_none_or(|a| a == "get") => {
            let c = trading::status(&store, now).await.map_err(failed)?.control;
            let mut json = serde_json::to_value(&c.limits).map_err(|e| e.to_string())?;
            json["breaker_failures"] = serde_json::json!(c.breaker_failures);
            println!("{}", serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?);
            return Ok(());
        }
        ("limits", [set, json]) if set == "set" => {
            let value: serde_json::Value =
                serde_json::from_str(json).map_err(|e| format!("the limits are not JSON: {e}"))?;
            let patch = value.as_object().ok_or("the limits are a JSON object")?;
            trading::patch_limits(&store, patch).await.map_err(failed)?
        }
        _ => return Err(USAGE.to_string()),
    };
    let status = trading::status(&store, now).await.map_err(failed)?;
    match change {
        Change::Done(_) => eprintln!("done ({})", tables.risk),
        Change::Unchanged(_) => eprintln!("nothing to change ({})", tables.risk),
    }
    println!("{}", status.text());
    Ok(())
}

/// The value after `name` (`--reason "exchange maintenance"`).
fn flag(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).filter(|v| !v.trim().is_empty()).cloned()
}
