//! `ops report`: the invariants report of a stack (docs/DESIGN.md §8), computed from its tables exactly as the
//! diagnostics API computes it — for when the API is unreachable, or from a shell. Prints the JSON; exit status 1
//! when the report fails, so a script can act on it.

use std::process::ExitCode;

use shared::config::{patience, ProcessEnv};
use shared::ports::Stores;
use shared::report::invariants::{self, ReportQuery};

use crate::stack;

#[derive(clap::Args)]
pub struct Args {
    /// The window, in hours back from now (1..720)
    #[arg(long, default_value = "24")]
    hours: String,
    /// At most this many signals, newest first (1..10000)
    #[arg(long)]
    limit: Option<String>,
    /// Only BUY or only SELL signals
    #[arg(long)]
    side: Option<String>,
}

pub async fn run(args: &Args) -> Result<ExitCode, String> {
    // The API's own validation of its parameters, so both answer the same question the same way.
    let mut params = vec![("hours", args.hours.as_str())];
    params.extend(args.limit.as_deref().map(|l| ("limit", l)));
    params.extend(args.side.as_deref().map(|s| ("side", s)));
    let query = ReportQuery::from_params(params).map_err(|e| e.to_string())?;
    let tables = stack::tables(&[
        ("SIGNALS_TABLE", "SignalsTableName"),
        ("ORDER_INTENTS_TABLE", "OrderIntentsTableName"),
        ("ALERTS_TABLE", "AlertsTableName"),
        ("RISK_TABLE", "RiskTableName"),
    ])?;
    let patience = patience(&ProcessEnv).map_err(|e| e.to_string())?;
    let (_, store) = stack::store(tables).await;
    let now = chrono::Utc::now();
    let mut report = invariants::collect(Stores::of(&store), &query, now, patience)
        .await
        .map_err(|e| stack::error_chain(&e))?;
    invariants::add_control(&mut report, &store).await;
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    if !report.pass {
        eprintln!("ops report: FAIL, {} violation(s)", report.violations.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
