//! DynamoDB adapter for the four tables of docs/DESIGN.md §3. Conditional writes carry the invariants:
//! create-if-absent for signals and intents (with ALL_OLD on conflict, so no extra read), a fenced
//! TransactWriteItems for finalize, and "no decision yet, or the same one" for decision traces.
//!
//! One file per table — `signals`, `intents` (with the claim and finalize transactions), `alerts`, `watchlist`,
//! `risk` (the control row and the counters) — each with its trait implementation and its item mapping; `mapping`
//! holds the typed attribute reads they share; this file the store, its request helpers and their unit tests.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::future::try_join_all;
use rust_decimal::Decimal;

use crate::config::TableNames;
use crate::decision::{Decision, DecisionType, ReasonCode};
use crate::ids::{ClientOid, IdempotencyKey, Side, SignalId, Symbol};
use crate::market::strategy::Emission;
use crate::money::{Quantity, QuoteAmount, Sizing, Usd, UsdPrice};
use crate::order::{ExecutionMode, IntentStatus, OrderIntent};
use crate::outbox::{AlertKind, AlertRecord, AlertStatus};
use crate::ports::{
    AlertStore, Claim, ClaimRequest, Finalization, FinalizeOutcome, IntentStore, PutOutcome, SignalStore, StoreError,
    WatchlistStore,
};
use crate::signal::{BlockedReason, SignalAlertStatus, SignalMessage, SignalRecord};
use crate::time::{day_of, rfc3339};
use crate::watchlist::{Setting, WatchlistEntry};

mod alerts;
mod intents;
mod mapping;
mod risk;
mod signals;
mod watchlist;

use alerts::*;
pub use intents::{intent_item, OPEN_FILLS_INDEX};
use mapping::*;
use signals::*;

pub(super) type Item = HashMap<String, AttributeValue>;

/// Value of the watchlist's `list` attribute, the partition key of its `by_list` index: every row carries it, so
/// the evaluator lists the watchlist with a Query instead of a Scan.
pub const WATCHLIST_LIST: &str = "default";

/// BatchGetItem accepts at most 100 keys per call.
const BATCH_GET_MAX: usize = 100;
const BATCH_GET_ROUNDS: u32 = 8;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    /// Fetches items by a string key, 100 per call, retrying unprocessed keys with a short backoff.
    async fn batch_get(&self, table: &str, key_name: &str, keys: &[String]) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|k| HashMap::from([(key_name.to_string(), s(k))]))
                .collect();
            let mut round = 0;
            while !pending.is_empty() {
                if round == BATCH_GET_ROUNDS {
                    return Err(StoreError::backend(
                        "BatchGetItem",
                        format!("{} keys of {table} stayed unprocessed", pending.len()),
                    ));
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(25 << round)).await;
                }
                round += 1;
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::backend("BatchGetItem", e))?;
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(table, ka)
                    .send()
                    .await
                    .map_err(|e| StoreError::backend("BatchGetItem", e))?;
                if let Some(mut r) = resp.responses {
                    out.extend(r.remove(table).unwrap_or_default());
                }
                if let Some(mut u) = resp.unprocessed_keys {
                    pending = u.remove(table).map(|k| k.keys).unwrap_or_default();
                }
            }
        }
        Ok(out)
    }

    /// Writes a watchlist row's configuration (and `list`, for the `by_list` index), keeping its throttle state: an
    /// update, not a put, so editing a symbol never resets its last signals. Overrides that are None are removed.
    pub async fn put_watchlist_entry(&self, e: &WatchlistEntry) -> Result<(), StoreError> {
        let (expr, names, values) = set_and_remove(watchlist_config(e));
        self.client
            .update_item()
            .table_name(&self.tables.watchlist)
            .key("symbol", s(e.symbol.as_str()))
            .update_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|err| StoreError::backend("UpdateItem watchlist (configuration)", err))?;
        Ok(())
    }

    /// Removes a symbol from the watchlist. Ok(false): it was not there.
    pub async fn remove_watchlist_entry(&self, symbol: &Symbol) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.watchlist)
            .key("symbol", s(symbol.as_str()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|err| StoreError::backend("DeleteItem watchlist", err))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// A transaction's put of an outbox row, unless one with its id exists.
    fn outbox_put(&self, alert: &AlertRecord) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.alerts)
            .set_item(Some(alert_item(alert, self.tables.retention_days)))
            .condition_expression("attribute_not_exists(alert_id)")
            .build()
            .map_err(|e| StoreError::backend("TransactWriteItems outbox row (build)", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Sends the claim's transaction. None: committed; Some: cancelled by a condition (the reasons say which).
    /// The claim's check of the signal row: it exists, is not blocked, and says what the message says (the queue is
    /// not the truth, docs/DESIGN.md §4). On a failed condition the row comes back (`ALL_OLD`).
    fn signal_check(&self, msg: &SignalMessage) -> Result<ConditionCheck, StoreError> {
        // A row written before `notify_order_placed` existed reads as true (the model's default), so it matches a
        // message saying true.
        let notify = if msg.notify_order_placed {
            "(#notify = :notify OR attribute_not_exists(#notify))"
        } else {
            "#notify = :notify"
        };
        ConditionCheck::builder()
            .table_name(&self.tables.signals)
            .key("signal_id", s(msg.signal_id.as_str()))
            .condition_expression(format!(
                "attribute_exists(signal_id) AND #symbol = :symbol AND #side = :side AND #price = :price \
                 AND #amount = :amount AND #trade = :trade AND #created = :created AND #blocked = :blocked \
                 AND {notify}"
            ))
            .set_expression_attribute_names(Some(HashMap::from([
                ("#symbol".into(), "symbol".into()),
                ("#side".into(), "side".into()),
                ("#price".into(), "price".into()),
                ("#amount".into(), "trade_amount_usd".into()),
                ("#trade".into(), "trade_enabled".into()),
                ("#created".into(), "created_at".into()),
                ("#blocked".into(), "blocked".into()),
                ("#notify".into(), "notify_order_placed".into()),
            ])))
            .set_expression_attribute_values(Some(HashMap::from([
                (":symbol".into(), s(msg.symbol.as_str())),
                (":side".into(), s(msg.side.as_str())),
                (":price".into(), s(msg.price.to_string())),
                (":amount".into(), s(msg.trade_amount_usd.to_string())),
                (":trade".into(), AttributeValue::Bool(msg.trade_enabled)),
                (":created".into(), s(rfc3339(msg.emitted_at))),
                (":blocked".into(), AttributeValue::Bool(false)),
                (":notify".into(), AttributeValue::Bool(msg.notify_order_placed)),
            ])))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::backend("TransactWriteItems claim (build)", e))
    }

    /// Every claim of an order adds to the day's global counter, so concurrent claims can conflict on it
    /// (`TransactionConflict`, which the SDK does not retry): those are retried here a few times with a short
    /// jittered pause — no condition failed, nothing was written — before the delivery is left for later.
    async fn claim_transaction(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<aws_sdk_dynamodb::types::error::TransactionCanceledException>, StoreError> {
        const ATTEMPTS: u32 = 4;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let cancelled = match res {
                Ok(_) => return Ok(None),
                Err(e) => match e.into_service_error() {
                    TransactWriteItemsError::TransactionCanceledException(c) => c,
                    other => return Err(StoreError::backend("TransactWriteItems claim", other)),
                },
            };
            let reasons = cancelled.cancellation_reasons();
            let conflict_only = reasons.iter().any(|r| r.code() == Some("TransactionConflict"))
                && !reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"));
            if !conflict_only || attempt == ATTEMPTS {
                return Ok(Some(cancelled));
            }
            let jitter = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::from(d.subsec_nanos()) % 40);
            tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt) + jitter)).await;
        }
    }

    /// A conditional create-if-absent PutItem. None: created; Some(item): the key existed, and this is the stored
    /// item as the failed condition returned it (`ReturnValuesOnConditionCheckFailure=ALL_OLD`, no extra read).
    async fn put_if_absent(
        &self,
        table: &str,
        item: Item,
        key: &str,
        op: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(format!("attribute_not_exists({key})"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(None),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(c) => c
                    .item
                    .map(Some)
                    .ok_or_else(|| StoreError::Unexpected(format!("{op}: conflict without ALL_OLD item"))),
                other => Err(StoreError::backend(op, other)),
            },
        }
    }

    /// One day of a table's `by_day` index, newest first, until `cap` items (all when `None`); `sent` filters to sent signals (of a
    /// side).
    async fn query_day(
        &self,
        table: &str,
        day: String,
        since: &str,
        until: &str,
        sent: Option<Option<Side>>,
        cap: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(table)
                .index_name("by_day")
                .key_condition_expression("#d = :day AND created_at BETWEEN :a AND :b")
                .expression_attribute_names("#d", "day")
                .expression_attribute_values(":day", s(&day))
                .expression_attribute_values(":a", s(since))
                .expression_attribute_values(":b", s(until))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take());
            match sent {
                None => {}
                Some(None) => {
                    req = req
                        .filter_expression("blocked = :f")
                        .expression_attribute_values(":f", AttributeValue::Bool(false))
                }
                Some(Some(side)) => {
                    req = req
                        .filter_expression("blocked = :f AND #side = :side")
                        .expression_attribute_names("#side", "side")
                        .expression_attribute_values(":f", AttributeValue::Bool(false))
                        .expression_attribute_values(":side", s(side.as_str()))
                }
            }
            let resp = req.send().await.map_err(|e| StoreError::backend("Query", e))?;
            items.extend(resp.items.unwrap_or_default());
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() && cap.is_none_or(|cap| items.len() < cap) => start = Some(k),
                _ => return Ok(items),
            }
        }
    }
}

/// A watchlist row's configuration attributes: a value to set, or None to remove (an override not given).
fn watchlist_config(e: &WatchlistEntry) -> Vec<(&'static str, Option<AttributeValue>)> {
    let bool_ = |b: bool| Some(AttributeValue::Bool(b));
    let text = |t: Option<&str>| t.map(s);
    let decimal = |d: Option<Decimal>| d.map(|v| s(v.to_string()));
    let mut attrs = vec![
        ("list", Some(s(WATCHLIST_LIST))),
        ("alert_enabled", bool_(e.alert_enabled)),
        ("trade_enabled", bool_(e.trade_enabled)),
        ("notify_order_placed", bool_(e.notify_order_placed)),
        ("sell_held_elsewhere", bool_(e.sell_held_elsewhere)),
        ("protection", bool_(e.protection)),
        (
            "trade_amount_usd",
            Some(AttributeValue::N(e.trade_amount_usd.to_string())),
        ),
        ("preset", Some(s(e.preset.name()))),
        ("min_price_change_pct", e.min_price_change_pct.map(n)),
        ("cooldown_minutes", e.cooldown_minutes.map(n)),
        ("buy_target", e.buy_target.map(n)),
        ("volume_min_ratio", e.volume_min_ratio.map(n)),
        ("timeframe", text(e.timeframe.as_ref().map(Setting::name))),
        ("rsi_method", text(e.rsi_method.as_ref().map(Setting::name))),
        (
            "on_protection_failure",
            text(e.on_protection_failure.as_ref().map(Setting::name)),
        ),
        ("sl_percentage", decimal(e.sl_percentage)),
        ("tp_percentage", decimal(e.tp_percentage)),
    ];
    attrs.extend(risk::symbol_limit_attrs(&e.limits));
    attrs
}

/// An update expression that sets the attributes with a value and removes the others, with its names and values.
fn set_and_remove(
    attrs: Vec<(&'static str, Option<AttributeValue>)>,
) -> (String, HashMap<String, String>, HashMap<String, AttributeValue>) {
    let (mut names, mut values) = (HashMap::new(), HashMap::new());
    let (mut set, mut remove) = (Vec::new(), Vec::new());
    for (i, (name, value)) in attrs.into_iter().enumerate() {
        names.insert(format!("#a{i}"), name.to_string());
        match value {
            Some(v) => {
                values.insert(format!(":a{i}"), v);
                set.push(format!("#a{i} = :a{i}"));
            }
            None => remove.push(format!("#a{i}")),
        }
    }
    let mut expr = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    (expr, names, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_days_cover_both_ends() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            days_between(t("2026-11-24T23:00:00Z"), t("2026-11-26T01:00:00Z")),
            ["2026-11-24", "2026-11-25", "2026-11-26"]
        );
        assert_eq!(
            days_between(t("2026-11-26T00:00:00Z"), t("2026-11-26T01:00:00Z")).len(),
            1
        );
    }
}
