//! `watchlist [--dry-run] list | add JSON | remove SYMBOL | import FILE`: the watchlist table of a deployment (or
//! of the local stack), edited with validation. The table is `WATCHLIST_TABLE` (a deployment's stack output
//! `WatchlistTableName`), AWS credentials and region from the environment as for any AWS tool.
//!
//! - `list` prints the rows as JSON (configuration only, the form `add` and `import` take);
//! - `add JSON` writes one row (`{"symbol": "BTC_USDT", "preset": "swing-aggressive", "trade_amount_usd": "100"}`;
//!   every other field has its default), replacing that symbol's configuration and keeping its throttle state;
//! - `import FILE` writes every row of a JSON array (all are validated before any is written);
//! - `remove SYMBOL` deletes a row.
//!
//! With `--dry-run` nothing is written: the rows are validated and printed as they would be written.

use std::process::ExitCode;

use shared::adapters::dynamodb::DynamoStore;
use shared::ids::Symbol;
use shared::model::WatchlistEntry;
use shared::ports::WatchlistStore;

const USAGE: &str = "usage: watchlist [--dry-run] list | add JSON | remove SYMBOL | import FILE";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let dry_run = args.iter().any(|a| a == "--dry-run");
    args.retain(|a| a != "--dry-run");
    match run(&args, dry_run).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watchlist: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &[String], dry_run: bool) -> Result<(), String> {
    let tables = tests::operator_tables(&[("WATCHLIST_TABLE", "WatchlistTableName")])?;
    let aws = tests::aws().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), tables.clone());
    let (command, rest) = args.split_first().ok_or(USAGE)?;
    match (command.as_str(), rest) {
        ("list", []) => {
            let rows = store
                .list()
                .await
                .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
            println!("{}", serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
            Ok(())
        }
        ("add", [json]) => {
            let entry: WatchlistEntry = serde_json::from_str(json).map_err(|e| format!("the row is not valid: {e}"))?;
            write(&store, &tables.watchlist, vec![entry], dry_run).await
        }
        ("import", [file]) => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            let entries: Vec<WatchlistEntry> =
                serde_json::from_str(&text).map_err(|e| format!("{file} is not a JSON array of rows: {e}"))?;
            write(&store, &tables.watchlist, entries, dry_run).await
        }
        ("remove", [symbol]) => {
            let symbol = Symbol::parse(symbol).map_err(|e| e.to_string())?;
            if dry_run {
                eprintln!("dry run: would remove {symbol} from {}", tables.watchlist);
                return Ok(());
            }
            match store.remove_watchlist_entry(&symbol).await.map_err(|e| e.to_string())? {
                true => eprintln!("removed {symbol} from {}", tables.watchlist),
                false => eprintln!("{symbol} was not on {}", tables.watchlist),
            }
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    }
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
            .map_err(|err| format!("{}: {err}: {:?}", e.symbol, std::error::Error::source(&err)))?;
    }
    eprintln!("{} row(s) written to {table}", entries.len());
    Ok(())
}
