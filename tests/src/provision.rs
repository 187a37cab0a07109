//! Creates the tables, indexes, queues and secrets of template.yaml in the local emulator — read from the template
//! itself (`crate::template`), so the local stack is what a deploy creates. Every step is idempotent: running it
//! twice is harmless, and a table made by an earlier template gains the indexes it lacks. Integration tests call it
//! with a unique prefix so that they never share state.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use shared::config::TableNames;
use shared::watchlist::WatchlistEntry;

use crate::template::{self, Stack};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The local values of the template's secrets, per secret (the name after the stack's) and key. A key the template
/// gives a secret and this list lacks fails provisioning, naming it.
const LOCAL_SECRET_VALUES: &[(&str, &str, &str)] = &[
    ("exchange", "api_key", "local-api-key"),
    ("exchange", "api_secret", "local-api-secret"),
    ("telegram", "bot_token", "000000:local-token"),
    ("telegram", "chat_id", "-1000000000000"),
    ("telegram", "webhook_secret", "local-webhook-secret-0123456789"),
    ("diagnostics", "api_key", LOCAL_DIAGNOSTICS_KEY),
];

/// The local diagnostics key, as the local diagnostics secret holds it.
pub const LOCAL_DIAGNOSTICS_KEY: &str = "local-diagnostics-key-0123456789";

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub tables: TableNames,
    pub queue_url: String,
    pub dlq_url: String,
}

/// A queue other than the template's (tests of redelivery use shorter timeouts); None in [`all`]: the template's.
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

/// The template's tables under the names `t` gives them.
pub async fn tables(ddb: &aws_sdk_dynamodb::Client, t: &TableNames) -> Result<(), BoxError> {
    tables_of(ddb, &Stack::shipped()?, t).await
}

/// `stack`'s tables under the names `t` gives them (by the variable the functions read each name from).
pub async fn tables_of(ddb: &aws_sdk_dynamodb::Client, stack: &Stack, t: &TableNames) -> Result<(), BoxError> {
    for table in &stack.tables {
        let name = match table.variable.as_str() {
            "SIGNALS_TABLE" => &t.signals,
            "ORDER_INTENTS_TABLE" => &t.intents,
            "ALERTS_TABLE" => &t.alerts,
            "WATCHLIST_TABLE" => &t.watchlist,
            "RISK_TABLE" => &t.risk,
            other => return Err(format!("template.yaml has a table {other} the functions' TableNames lack").into()),
        };
        create_table(ddb, name, table).await?;
    }
    Ok(())
}

fn key_schema(key: &[(String, String)]) -> Result<Vec<KeySchemaElement>, BoxError> {
    key.iter()
        .map(|(attribute, kind)| {
            Ok(KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(KeyType::from(kind.as_str()))
                .build()?)
        })
        .collect()
}

fn projection(index: &template::Index) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(index.projection.as_str()))
        .set_non_key_attributes((!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()))
        .build()
}

fn attributes(table: &template::Table) -> Result<Vec<AttributeDefinition>, BoxError> {
    table
        .attributes
        .iter()
        .map(|(name, kind)| {
            Ok(AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?)
        })
        .collect()
}

async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str, table: &template::Table) -> Result<(), BoxError> {
    match ddb.describe_table().table_name(name).send().await {
        Err(_) => {
            let mut gsis = Vec::new();
            for index in &table.indexes {
                gsis.push(
                    GlobalSecondaryIndex::builder()
                        .index_name(&index.name)
                        .set_key_schema(Some(key_schema(&index.key)?))
                        .projection(projection(index))
                        .build()?,
                );
            }
            ddb.create_table()
                .table_name(name)
                .billing_mode(BillingMode::PayPerRequest)
                .set_key_schema(Some(key_schema(&table.key)?))
                .set_attribute_definitions(Some(attributes(table)?))
                .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
                .send()
                .await?;
        }
        Ok(existing) => add_missing_indexes(ddb, name, table, existing.table()).await?,
    }
    wait_active(ddb, name).await?;
    if let Some(attribute) = &table.ttl_attribute {
        let ttl = ddb.describe_time_to_live().table_name(name).send().await?;
        let on = ttl.time_to_live_description().and_then(|d| d.time_to_live_status())
            == Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled);
        if !on {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()?;
            ddb.update_time_to_live()
                .table_name(name)
                .time_to_live_specification(spec)
                .send()
                .await?;
        }
    }
    Ok(())
}

/// A table made by an earlier template gains the indexes it lacks.
async fn add_missing_indexes(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    table: &template::Table,
    existing: Option<&aws_sdk_dynamodb::types::TableDescription>,
) -> Result<(), BoxError> {
    let have: Vec<&str> = existing
        .map(|t| {
            t.global_secondary_indexes()
                .iter()
                .filter_map(|g| g.index_name())
                .collect()
        })
        .unwrap_or_default();
    for index in table.indexes.iter().filter(|i| !have.contains(&i.name.as_str())) {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(&index.name)
            .set_key_schema(Some(key_schema(&index.key)?))
            .projection(projection(index))
            .build()?;
        ddb.update_table()
            .table_name(name)
            .set_attribute_definitions(Some(attributes(table)?))
            .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
            .send()
            .await?;
    }
    Ok(())
}

/// The emulator makes tables ACTIVE at once; AWS does not. Wait either way.
async fn wait_active(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), BoxError> {
    for _ in 0..60 {
        let d = ddb.describe_table().table_name(name).send().await?;
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(format!("table {name} did not become ACTIVE").into())
}

/// Creates `spec.name` and `{spec.name}-dlq` with the redrive policy and the template's retention periods; returns
/// (queue_url, dlq_url).
pub async fn queue(
    sqs: &aws_sdk_sqs::Client,
    template: &template::Queue,
    spec: &QueueSpec<'_>,
) -> Result<(String, String), BoxError> {
    let mut dlq_attrs = HashMap::new();
    if let Some(s) = template.dlq_retention_s {
        dlq_attrs.insert(QueueAttributeName::MessageRetentionPeriod, s.to_string());
    }
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{}-dlq", spec.name))
        .set_attributes(Some(dlq_attrs))
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
    let mut attrs: HashMap<QueueAttributeName, String> = HashMap::from([
        (
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout_s.to_string(),
        ),
        (QueueAttributeName::RedrivePolicy, redrive),
    ]);
    if let Some(s) = template.retention_s {
        attrs.insert(QueueAttributeName::MessageRetentionPeriod, s.to_string());
    }
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

/// The template's secrets with the local values of their keys.
pub async fn secrets(sm: &aws_sdk_secretsmanager::Client, stack: &Stack) -> Result<(), BoxError> {
    for secret in &stack.secrets {
        let short = secret.name.rsplit('/').next().unwrap_or_default();
        let mut value = serde_json::Map::new();
        for key in &secret.keys {
            let local = LOCAL_SECRET_VALUES
                .iter()
                .find(|(s, k, _)| *s == short && k == key)
                .ok_or(format!(
                    "template.yaml gives secret {} the key {key}, which has no local value",
                    secret.name
                ))?;
            value.insert(key.clone(), local.2.into());
        }
        if sm.describe_secret().secret_id(&secret.name).send().await.is_ok() {
            continue;
        }
        let text = serde_json::Value::Object(value).to_string();
        match sm.create_secret().name(&secret.name).secret_string(text).send().await {
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

/// Everything for one isolated namespace: the template's tables with `prefix`, its queue as `{prefix}signals` + DLQ
/// (or `queue_spec`'s), its secrets.
pub async fn all(
    aws: &aws_config::SdkConfig,
    prefix: &str,
    queue_spec: Option<QueueSpec<'_>>,
) -> Result<Provisioned, BoxError> {
    let stack = Stack::shipped()?;
    let t = prefixed_tables(prefix);
    tables_of(&aws_sdk_dynamodb::Client::new(aws), &stack, &t).await?;
    let qname = format!("{prefix}signals");
    let spec = queue_spec.unwrap_or(QueueSpec {
        name: &qname,
        visibility_timeout_s: stack.queue.visibility_timeout_s,
        max_receive_count: stack.queue.max_receive_count,
    });
    let (queue_url, dlq_url) = queue(&aws_sdk_sqs::Client::new(aws), &stack.queue, &spec).await?;
    secrets(&aws_sdk_secretsmanager::Client::new(aws), &stack).await?;
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
    for (symbol, step_ms) in replay.coarser_than(shared::market::candles::Timeframe::M5) {
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
