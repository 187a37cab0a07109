//! Creates the tables, index, queues and secrets of template.yaml in the local emulator — the local counterpart of
//! the stack (and of the seed's "[BOOT] order_intents table OK"). Every step is idempotent: running it twice is
//! harmless. Integration tests call it with a unique prefix so that they never share state.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use shared::config::TableNames;
use shared::model::WatchlistEntry;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Queue settings as in template.yaml: visibility ≥ 6× the orchestrator timeout (30 s), DLQ after 5 receives.
pub const VISIBILITY_TIMEOUT_S: u32 = 180;
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// Secret names and keys as in template.yaml, with local placeholder values.
pub const SECRETS: &[(&str, &str)] = &[
    (
        "signal-orchestrator/exchange",
        r#"{"api_key":"local-api-key","api_secret":"local-api-secret"}"#,
    ),
    (
        "signal-orchestrator/telegram",
        r#"{"bot_token":"000000:local-token","chat_id":"-1000000000000","webhook_secret":"local-webhook-secret-0123456789"}"#,
    ),
    (
        "signal-orchestrator/diagnostics",
        r#"{"api_key":"local-diagnostics-key-0123456789"}"#,
    ),
];

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub tables: TableNames,
    pub queue_url: String,
    pub dlq_url: String,
}

pub struct QueueSpec<'a> {
    pub name: &'a str,
    pub visibility_timeout_s: u32,
    pub max_receive_count: u32,
}

/// Table names of one namespace: `{prefix}signals`, `{prefix}order_intents`, ... (empty prefix = the defaults).
pub fn prefixed_tables(prefix: &str) -> TableNames {
    TableNames {
        signals: format!("{prefix}signals"),
        intents: format!("{prefix}order_intents"),
        alerts: format!("{prefix}alerts"),
        watchlist: format!("{prefix}watchlist"),
        risk: format!("{prefix}risk"),
        retention_days: 90,
    }
}

/// A global secondary index: name, hash key, range key, projection (all key attributes are strings).
struct Index(&'static str, &'static str, &'static str, ProjectionType);

pub async fn tables(ddb: &aws_sdk_dynamodb::Client, t: &TableNames) -> Result<(), BoxError> {
    let by_day = || Index("by_day", "day", "created_at", ProjectionType::All);
    create_table(ddb, &t.signals, "signal_id", &[by_day()]).await?;
    // `open_fills` is sparse: only placed orders whose fill is not final carry `open_fill`.
    let open_fills = Index("open_fills", "open_fill", "created_at", ProjectionType::All);
    create_table(ddb, &t.intents, "idempotency_key", &[by_day(), open_fills]).await?;
    create_table(ddb, &t.alerts, "alert_id", &[]).await?;
    let by_list = Index("by_list", "list", "symbol", ProjectionType::KeysOnly);
    create_table(ddb, &t.watchlist, "symbol", &[by_list]).await?;
    create_table(ddb, &t.risk, "pk", &[]).await?;
    Ok(())
}

async fn create_table(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    key: &str,
    indexes: &[Index],
) -> Result<(), BoxError> {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key_el = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
    let gsi = |Index(index_name, hash, range, projection): &Index| {
        GlobalSecondaryIndex::builder()
            .index_name(*index_name)
            .key_schema(key_el(hash, KeyType::Hash)?)
            .key_schema(key_el(range, KeyType::Range)?)
            .projection(Projection::builder().projection_type(projection.clone()).build())
            .build()
    };
    let mut defs: Vec<&str> = vec![key];
    for Index(_, hash, range, _) in indexes {
        for d in [*hash, *range] {
            if !defs.contains(&d) {
                defs.push(d);
            }
        }
    }
    match ddb.describe_table().table_name(name).send().await {
        Err(_) => {
            let mut req = ddb
                .create_table()
                .table_name(name)
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(key_el(key, KeyType::Hash)?);
            for d in &defs {
                req = req.attribute_definitions(attr(d)?);
            }
            for index in indexes {
                req = req.global_secondary_indexes(gsi(index)?);
            }
            req.send().await?;
        }
        Ok(existing) => {
            // A table made by an earlier version of this provisioning gains the indexes it lacks.
            let have: Vec<String> = existing
                .table()
                .map(|t| {
                    t.global_secondary_indexes()
                        .iter()
                        .filter_map(|g| g.index_name().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for index in indexes.iter().filter(|i| !have.iter().any(|h| h == i.0)) {
                let mut req = ddb.update_table().table_name(name);
                for d in &defs {
                    req = req.attribute_definitions(attr(d)?);
                }
                let create = aws_sdk_dynamodb::types::CreateGlobalSecondaryIndexAction::builder()
                    .index_name(index.0)
                    .key_schema(key_el(index.1, KeyType::Hash)?)
                    .key_schema(key_el(index.2, KeyType::Range)?)
                    .projection(Projection::builder().projection_type(index.3.clone()).build())
                    .build()?;
                req.global_secondary_index_updates(
                    aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                        .create(create)
                        .build(),
                )
                .send()
                .await?;
            }
        }
    }
    // The emulator makes tables ACTIVE at once; AWS does not. Wait either way.
    for _ in 0..60 {
        let d = ddb.describe_table().table_name(name).send().await?;
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(format!("table {name} did not become ACTIVE").into())
}

/// Creates `name` and `name-dlq` with the redrive policy; returns (queue_url, dlq_url).
pub async fn queue(sqs: &aws_sdk_sqs::Client, spec: &QueueSpec<'_>) -> Result<(String, String), BoxError> {
    let dlq_name = format!("{}-dlq", spec.name);
    let dlq_url = sqs
        .create_queue()
        .queue_name(&dlq_name)
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await?
        .queue_url
        .ok_or("no DLQ url")?;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("no DLQ arn")?;
    let redrive =
        serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count }).to_string();
    let attrs: HashMap<QueueAttributeName, String> = HashMap::from([
        (
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout_s.to_string(),
        ),
        (QueueAttributeName::RedrivePolicy, redrive),
    ]);
    let url = sqs
        .create_queue()
        .queue_name(spec.name)
        .set_attributes(Some(attrs.clone()))
        .send()
        .await?
        .queue_url
        .ok_or("no queue url")?;
    // create_queue on an existing queue with other attributes fails on AWS; make them equal either way.
    sqs.set_queue_attributes()
        .queue_url(&url)
        .set_attributes(Some(attrs))
        .send()
        .await?;
    Ok((url, dlq_url))
}

pub async fn secrets(sm: &aws_sdk_secretsmanager::Client) -> Result<(), BoxError> {
    for (name, value) in SECRETS {
        if sm.describe_secret().secret_id(*name).send().await.is_ok() {
            continue;
        }
        match sm.create_secret().name(*name).secret_string(*value).send().await {
            Ok(_) => {}
            // Created meanwhile by a concurrent bootstrap (tests run in parallel): the same outcome.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes the watchlist rows through the adapter the watchlist tool uses (validated; configuration written, throttle
/// state kept).
pub async fn seed_watchlist(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    entries: &[WatchlistEntry],
) -> Result<(), BoxError> {
    let problems: Vec<String> = entries.iter().flat_map(|e| e.problems()).collect();
    if !problems.is_empty() {
        return Err(problems.join("; ").into());
    }
    let tables = TableNames {
        watchlist: table.to_string(),
        ..prefixed_tables("")
    };
    let store = shared::adapters::dynamodb::DynamoStore::new(ddb.clone(), tables);
    for e in entries {
        store.put_watchlist_entry(e).await?;
    }
    Ok(())
}

/// Everything for one isolated namespace: tables with `prefix`, queue `{prefix}signals` + DLQ.
pub async fn all(
    aws: &aws_config::SdkConfig,
    prefix: &str,
    queue_spec: Option<QueueSpec<'_>>,
) -> Result<Provisioned, BoxError> {
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    let sqs = aws_sdk_sqs::Client::new(aws);
    let t = prefixed_tables(prefix);
    tables(&ddb, &t).await?;
    let qname = format!("{prefix}signals");
    let spec = queue_spec.unwrap_or(QueueSpec {
        name: &qname,
        visibility_timeout_s: VISIBILITY_TIMEOUT_S,
        max_receive_count: MAX_RECEIVE_COUNT,
    });
    let (queue_url, dlq_url) = queue(&sqs, &spec).await?;
    secrets(&aws_sdk_secretsmanager::Client::new(aws)).await?;
    Ok(Provisioned {
        tables: t,
        queue_url,
        dlq_url,
    })
}

/// The watchlist `local-stack` seeds and where it came from: the file (default `data/watchlist.json`); with a candle
/// folder and no file, one entry per symbol of its files (the watchlist's defaults, 100 USD per order); with both,
/// the file's entries that have candles (the others are named on stderr, one line each).
pub fn watchlist_to_seed(
    file: Option<String>,
    candles: Option<&std::path::Path>,
) -> Result<(Vec<WatchlistEntry>, String), BoxError> {
    let Some(dir) = candles else {
        let path = file.unwrap_or_else(|| "data/watchlist.json".into());
        return Ok((read_watchlist(&path)?, path));
    };
    let replay = shared::adapters::replay::ReplayMarketData::from_dir(dir)?;
    for (symbol, step_ms) in replay.coarser_than(shared::candles::Timeframe::M5) {
        eprintln!(
            "[BOOT] {symbol}: candles every {} min, coarser than the volume gate's 5 minutes: no volume data, no signals",
            step_ms / 60_000
        );
    }
    let symbols = replay.symbols();
    let Some(path) = file else {
        let entries = symbols.into_iter().map(WatchlistEntry::new).collect();
        return Ok((entries, format!("the candle files of {}", dir.display())));
    };
    let (with_data, without): (Vec<_>, Vec<_>) = read_watchlist(&path)?
        .into_iter()
        .partition(|e| symbols.contains(&e.symbol));
    for e in without {
        eprintln!(
            "[BOOT] watchlist symbol {} has no candle file in {}: left out",
            e.symbol,
            dir.display()
        );
    }
    Ok((with_data, path))
}

fn read_watchlist(path: &str) -> Result<Vec<WatchlistEntry>, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("watchlist file {path}: {e}"))?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("watchlist file {path}: {e}"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_watchlist_follows_the_candle_folder() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let shipped = root.join("data/candles");
        let (entries, _) = watchlist_to_seed(None, Some(&shipped)).unwrap();
        let symbols: Vec<&str> = entries.iter().map(|e| e.symbol.as_str()).collect();
        assert_eq!(symbols, ["ETH_BTC", "XRP_ETH", "XRP_USDT"]);
        assert!(entries
            .iter()
            .all(|e| e.preset.name() == "swing-aggressive" && e.trade_amount_usd == rust_decimal::Decimal::from(100)));

        let one = std::env::temp_dir().join(format!("candles-{}", std::process::id()));
        std::fs::create_dir_all(&one).unwrap();
        std::fs::copy(shipped.join("ETH_BTC-5m.json"), one.join("ETH_BTC-elsewhere.json")).unwrap();
        let file = root.join("data/watchlist.json").display().to_string();
        let (entries, _) = watchlist_to_seed(Some(file), Some(&one)).unwrap();
        std::fs::remove_dir_all(&one).unwrap();
        assert_eq!(entries.len(), 1, "the file's entries without candles are left out");
        assert_eq!(entries[0].symbol.as_str(), "ETH_BTC");
        assert_eq!(
            entries[0].preset.name(),
            "swing-aggressive",
            "the file's own settings are kept"
        );
    }
}
