//! `ops trading`: the kill switch and the global risk limits of a stack, in its control row (docs/DESIGN.md §11).
//! The table is `RISK_TABLE` (the stack output `RiskTableName`).
//!
//! `limits set JSON` changes only the settings it names, e.g. `{"max_orders_per_day": 20}` or
//! `{"max_daily_loss_usd": "50", "max_order_usd": null}`: `null` clears one (`"breaker_failures": null` switches the
//! circuit breaker off), an unknown name is refused, and a setting left out stays as it is. Per-symbol limits are on
//! the watchlist rows (`ops watchlist`).

use std::process::ExitCode;

use clap::Subcommand;
use shared::flow::trading::{self, Change};

use crate::stack;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// The state (trading or halted: why, by whom, since when), today's orders and notional, the limits
    Status,
    /// Stop trading at the next claim, with no redeploy
    Halt {
        /// Why (what the next person reads)
        #[arg(long, value_parser = non_blank)]
        reason: String,
        /// Who halts it (default: $USER)
        #[arg(long, value_parser = non_blank)]
        by: Option<String>,
    },
    /// Trade again (re-arms the circuit breaker)
    Resume,
    /// The global risk limits: print them, or change only the settings named
    Limits {
        #[command(subcommand)]
        action: Option<Limits>,
    },
}

#[derive(Subcommand)]
enum Limits {
    /// Print the global limits and the circuit breaker as JSON (the default)
    Get,
    /// Change only the settings named, e.g. '{"max_orders_per_day": 20}'; null clears one; unknown names are refused
    Set {
        /// A JSON object of settings
        json: String,
    },
}

fn non_blank(v: &str) -> Result<String, String> {
    match v.trim() {
        "" => Err("must not be empty".into()),
        t => Ok(t.to_string()),
    }
}

pub async fn run(args: &Args) -> Result<ExitCode, String> {
    let tables = stack::tables(&[("RISK_TABLE", "RiskTableName")])?;
    let (_, store) = stack::store(tables.clone()).await;
    let failed = |e: trading::TradingError| stack::error_chain(&e);
    let now = chrono::Utc::now();
    let change = match &args.action {
        Action::Status => {
            println!("{}", trading::status(&store, now).await.map_err(failed)?.text());
            return Ok(ExitCode::SUCCESS);
        }
        Action::Halt { reason, by } => {
            let by = by
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "operator".into());
            trading::halt(&store, reason, &by, now).await.map_err(failed)?
        }
        Action::Resume => trading::resume(&store).await.map_err(failed)?,
        Action::Limits {
            action: None | Some(Limits::Get),
        } => {
            let c = trading::status(&store, now).await.map_err(failed)?.control;
            let mut json = serde_json::to_value(&c.limits).map_err(|e| e.to_string())?;
            json["breaker_failures"] = serde_json::json!(c.breaker_failures);
            println!("{}", serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?);
            return Ok(ExitCode::SUCCESS);
        }
        Action::Limits {
            action: Some(Limits::Set { json }),
        } => {
            let value: serde_json::Value =
                serde_json::from_str(json).map_err(|e| format!("the limits are not JSON: {e}"))?;
            let patch = value.as_object().ok_or("the limits are a JSON object")?;
            trading::patch_limits(&store, patch).await.map_err(failed)?
        }
    };
    let status = trading::status(&store, now).await.map_err(failed)?;
    match change {
        Change::Done(_) => eprintln!("done ({})", tables.risk),
        Change::Unchanged(_) => eprintln!("nothing to change ({})", tables.risk),
    }
    println!("{}", status.text());
    Ok(ExitCode::SUCCESS)
}
