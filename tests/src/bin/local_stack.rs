//! `local-stack [WATCHLIST_FILE] [--candles DIR]`: creates (idempotently) template.yaml's tables, indexes, queue + DLQ
//! and secrets in the emulator the `AWS_ENDPOINT_URL` points at, and seeds the watchlist: from the file (default
//! `data/watchlist.json`), or, with `--candles DIR` and no file, one entry per symbol of the folder's candle files
//! with the watchlist's defaults and 100 USD per order. With `--candles`, a file entry whose symbol has no candles
//! in the folder is left out with one line saying so (the evaluator would otherwise warn at every step).

use std::path::PathBuf;

use tests::provision;

#[tokio::main]
async fn main() -> Result<(), provision::BoxError> {
    let (mut file, mut candles) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--candles" => candles = Some(PathBuf::from(args.next().ok_or("--candles needs a folder")?)),
            _ => file = Some(arg),
        }
    }
    let (entries, path) = provision::watchlist_to_seed(file, candles.as_deref())?;
    if entries.is_empty() {
        return Err("the watchlist to seed is empty".into());
    }
    let aws = tests::aws().await;
    let p = provision::all(&aws, "", None).await?;
    provision::seed_watchlist(&aws_sdk_dynamodb::Client::new(&aws), &p.tables.watchlist, &entries).await?;
    let t = &p.tables;
    eprintln!(
        "[BOOT] tables OK (from template.yaml): {}, {}, {}, {}, {}",
        t.signals, t.intents, t.alerts, t.watchlist, t.risk
    );
    eprintln!("[BOOT] queue OK: {} (DLQ {})", p.queue_url, p.dlq_url);
    let secrets: Vec<String> = tests::template::Stack::shipped()?
        .secrets
        .into_iter()
        .map(|s| s.name)
        .collect();
    eprintln!("[BOOT] secrets OK: {}", secrets.join(", "));
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
    println!("DIAGNOSTICS_KEY={}", provision::LOCAL_DIAGNOSTICS_KEY);
    Ok(())
}
