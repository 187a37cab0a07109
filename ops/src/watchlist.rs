//! `ops watchlist`: the watchlist table of a stack, edited with validation. The table is `WATCHLIST_TABLE` (the stack
//! output `WatchlistTableName`).
//!
//! `add` writes one row (`{"symbol": "BTC_USDT", "preset": "swing-aggressive", "trade_amount_usd": "100"}`; every
//! other field has its default), replacing that symbol's configuration and keeping its throttle state; `import` writes
//! every row of a JSON array, all validated before any is written. With `--dry-run` nothing is written.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use shared::adapters::dynamodb::DynamoStore;
use shared::ids::Symbol;
use shared::ports::WatchlistStore;
use shared::watchlist::WatchlistEntry;

use crate::stack;

#[derive(clap::Args)]
pub struct Args {
    /// Validate and print what would be written; write nothing
    #[arg(long, global = true)]
    dry_run: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Print the rows as JSON (configuration only: the form add and import take)
    List,
    /// Write one row, e.g. '{"symbol":"BTC_USDT","preset":"swing-aggressive","trade_amount_usd":"100"}'
    Add {
        /// The row as JSON
        json: String,
    },
    /// Delete one symbol's row
    Remove {
        /// e.g. BTC_USDT
        symbol: String,
    },
    /// Write every row of a JSON array (all validated before any is written)
    Import {
        /// A JSON file holding an array of rows
        file: PathBuf,
    },
}

pub async fn run(args: &Args) -> Result<ExitCode, String> {
    let tables = stack::tables(&[("WATCHLIST_TABLE", "WatchlistTableName")])?;
    let (_, store) = stack::store(tables.clone()).await;
    let table = &tables.watchlist;
    match &args.action {
        Action::List => {
            let rows = store.list().await.map_err(|e| stack::error_chain(&e))?;
            println!("{}", serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
        }
        Action::Add { json } => {
            let entry: WatchlistEntry = serde_json::from_str(json).map_err(|e| format!("the row is not valid: {e}"))?;
            write(&store, table, vec![entry], args.dry_run).await?;
        }
        Action::Import { file } => {
            let shown = file.display();
            let text = std::fs::read_to_string(file).map_err(|e| format!("{shown}: {e}"))?;
            let entries: Vec<WatchlistEntry> =
                serde_json::from_str(&text).map_err(|e| format!("{shown} is not a JSON array of rows: {e}"))?;
            write(&store, table, entries, args.dry_run).await?;
        }
        Action::Remove { symbol } => {
            let symbol = Symbol::parse(symbol).map_err(|e| e.to_string())?;
            if args.dry_run {
                eprintln!("dry run: would remove {symbol} from {table}");
                return Ok(ExitCode::SUCCESS);
            }
            match store
                .remove_watchlist_entry(&symbol)
                .await
                .map_err(|e| stack::error_chain(&e))?
            {
                true => eprintln!("removed {symbol} from {table}"),
                false => eprintln!("{symbol} was not on {table}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Validates every row first (nothing is written when one is wrong), then writes them.
async fn write(store: &DynamoStore, table: &str, entries: Vec<WatchlistEntry>, dry_run: bool) -> Result<(), String> {
    let problems: Vec<String> = entries.iter().flat_map(WatchlistEntry::problems).collect();
    if !problems.is_empty() {
        return Err(format!("nothing written:\n  {}", problems.join("\n  ")));
    }
    println!("{}", serde_json::to_string_pretty(&entries).map_err(|e| e.to_string())?);
    if dry_run {
        eprintln!("dry run: {} row(s) valid, nothing written to {table}", entries.len());
        return Ok(());
    }
    for e in &entries {
        store
            .put_watchlist_entry(e)
            .await
            .map_err(|err| format!("{}: {}", e.symbol, stack::error_chain(&err)))?;
    }
    eprintln!("{} row(s) written to {table}", entries.len());
    Ok(())
}
