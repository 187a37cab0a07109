//! `ops`: the operations command of a stack — its watchlist, its kill switch and risk limits, a reconciliation pass,
//! the invariants report read straight from its tables, and the strategy's replay over a candle file (no AWS).
//!
//! The commands that touch a stack take its table names from the environment (the stack outputs; see
//! docs/OPERATIONS.md) and AWS credentials and region as any AWS tool does. Locally (`AWS_ENDPOINT_URL` set, as the
//! scripts' `--local` does) the tables default to the demo's own. Exit status: 0 done, 1 a report that fails, 2 an
//! error (printed on one line, with its cause).

mod backtest_report;
mod dlq;
mod reconcile;
mod replay;
mod report;
mod rotate;
mod stack;
mod trading;
mod watchlist;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ops", version, about = "Operate a signal-orchestrator stack", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List, add, remove and import watchlist rows, validated (WATCHLIST_TABLE)
    Watchlist(watchlist::Args),
    /// The kill switch and the global risk limits: status, halt, resume, limits get|set (RISK_TABLE)
    Trading(trading::Args),
    /// One reconciliation pass: fills read from the exchange and recorded, messages resent, ghosts and losses checked
    Reconcile(reconcile::Args),
    /// The dead-letter queue: what a redrive would make of each message (stale ones are skipped), and the redrive
    Dlq(dlq::Args),
    /// The invariants report, computed from the tables as the diagnostics API does (exit 1 when it fails)
    Report(report::Args),
    /// Rotate the exchange key or the diagnostics key in the safe order (check, store, restart, then retire the old)
    Rotate(rotate::Args),
    /// The strategy over a candle file, without AWS: indicators, decisions and signals, or the backtest report
    Replay(Box<replay::Args>),
}

fn main() -> ExitCode {
    let (name, outcome) = match Cli::parse().command {
        Command::Watchlist(args) => ("watchlist", block_on(watchlist::run(&args))),
        Command::Trading(args) => ("trading", block_on(trading::run(&args))),
        Command::Reconcile(args) => ("reconcile", block_on(reconcile::run(&args))),
        Command::Report(args) => ("report", block_on(report::run(&args))),
        Command::Dlq(args) => ("dlq", block_on(dlq::run(&args))),
        Command::Rotate(args) => ("rotate", block_on(rotate::run(&args))),
        Command::Replay(args) => ("replay", replay::run(&args)),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ops {name}: {e}");
            ExitCode::from(2)
        }
    }
}

/// The AWS commands run on one thread: each is a handful of sequential requests.
fn block_on(command: impl std::future::Future<Output = Result<ExitCode, String>>) -> Result<ExitCode, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("could not start the async runtime: {e}"))?
        .block_on(command)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
