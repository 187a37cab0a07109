//! `local-stack [WATCHLIST_FILE]`: creates (idempotently) the tables, index, queue + DLQ and secrets in the emulator
//! the `AWS_ENDPOINT_URL` points at, and seeds the watchlist from the file (default `data/watchlist.json`).

use shared::model::WatchlistEntry;
use tests::provision;

#[tokio::main]
async fn main() -> Result<(), provision::BoxError> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "data/watchlist.json".into());
    let text = std::fs::read_to_string(&path).map_err(|e| format!("watchlist file {path}: {e}"))?;
    let entries: Vec<WatchlistEntry> =
        serde_json::from_str(&text).map_err(|e| format!("watchlist file {path}: {e}"))?;
    let aws = tests::aws().await;
    let p = provision::all(&aws, "", None).await?;
    provision::seed_watchlist(&aws_sdk_dynamodb::Client::new(&aws), &p.tables.watchlist, &entries).await?;
    eprintln!(
        "[BOOT] tables OK: {}, {} (GSI by_day), {}, {}",
        p.tables.watchlist, p.tables.signals, p.tables.intents, p.tables.alerts
    );
    eprintln!("[BOOT] queue OK: {} (DLQ {})", p.queue_url, p.dlq_url);
    eprintln!(
        "[BOOT] secrets OK: {}",
        provision::SECRETS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "[BOOT] watchlist seeded from {path}: {}",
        entries
            .iter()
            .map(|e| e.symbol.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("SIGNALS_QUEUE_URL={}", p.queue_url);
    // The local diagnostics key, as stored in the secret, for the local API's callers.
    let diagnostics: serde_json::Value = provision::SECRETS
        .iter()
        .find(|(name, _)| *name == "signal-orchestrator/diagnostics")
        .and_then(|(_, v)| serde_json::from_str(v).ok())
        .unwrap_or_default();
    println!(
        "DIAGNOSTICS_KEY={}",
        diagnostics["api_key"].as_str().unwrap_or_default()
    );
    Ok(())
}
