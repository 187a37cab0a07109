//! DynamoDB adapter for the four tables of docs/DESIGN.md §3. Conditional writes carry the invariants:
//! create-if-absent for signals and intents (with ALL_OLD on conflict, so no extra read), a fenced
//! TransactWriteItems for finalize, and "no decision yet, or the same one" for decision traces.

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
use crate::ids::{ClientOid, IdempotencyKey, Side, SignalId, Symbol};
use crate::model::{
    day_of, rfc3339, AlertKind, AlertRecord, AlertStatus, BlockedReason, Decision, DecisionType, Emission,
    IntentStatus, OrderIntent, ReasonCode, SignalAlertStatus, SignalMessage, SignalRecord, TradingMode, WatchlistEntry,
};
use crate::money::{Quantity, QuoteAmount, Sizing, Usd, UsdPrice};
use crate::ports::{
    AlertStore, Claim, ClaimRequest, Finalization, FinalizeOutcome, IntentStore, PutOutcome, SignalStore, StoreError,
    WatchlistStore,
};

mod risk;

type Item = HashMap<String, AttributeValue>;

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
                    return Err(StoreError::Corrupt(format!(
                        "{} keys of {table} stayed unprocessed",
                        pending.len()
                    )));
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
        let mut set: Vec<(&str, AttributeValue)> = vec![
            ("list", s(WATCHLIST_LIST)),
            ("alert_enabled", AttributeValue::Bool(e.alert_enabled)),
            ("trade_enabled", AttributeValue::Bool(e.trade_enabled)),
            ("notify_order_placed", AttributeValue::Bool(e.notify_order_placed)),
            ("trade_amount_usd", AttributeValue::N(e.trade_amount_usd.to_string())),
            ("preset", s(&e.preset)),
        ];
        let mut remove = Vec::new();
        let numbers = [
            ("min_price_change_pct", e.min_price_change_pct),
            ("cooldown_minutes", e.cooldown_minutes),
            ("buy_target", e.buy_target),
            ("volume_min_ratio", e.volume_min_ratio),
        ];
        for (name, value) in numbers {
            match value {
                Some(v) => set.push((name, n(v))),
                None => remove.push(name),
            }
        }
        for (name, value) in [("timeframe", &e.timeframe), ("rsi_method", &e.rsi_method)] {
            match value {
                Some(v) => set.push((name, s(v))),
                None => remove.push(name),
            }
        }
        for (name, value) in risk::symbol_limit_attrs(&e.limits) {
            match value {
                Some(v) => set.push((name, v)),
                None => remove.push(name),
            }
        }
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut assignments = Vec::new();
        for (i, (name, value)) in set.into_iter().enumerate() {
            names.insert(format!("#s{i}"), name.to_string());
            values.insert(format!(":s{i}"), value);
            assignments.push(format!("#s{i} = :s{i}"));
        }
        let mut expr = format!("SET {}", assignments.join(", "));
        if !remove.is_empty() {
            let removed: Vec<String> = remove
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    names.insert(format!("#r{i}"), name.to_string());
                    format!("#r{i}")
                })
                .collect();
            expr.push_str(&format!(" REMOVE {}", removed.join(", ")));
        }
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
        ConditionCheck::builder()
            .table_name(&self.tables.signals)
            .key("signal_id", s(msg.signal_id.as_str()))
            .condition_expression(
                "attribute_exists(signal_id) AND #symbol = :symbol AND #side = :side AND #price = :price \
                 AND #amount = :amount AND #trade = :trade AND #created = :created AND #blocked = :blocked",
            )
            .set_expression_attribute_names(Some(HashMap::from([
                ("#symbol".into(), "symbol".into()),
                ("#side".into(), "side".into()),
                ("#price".into(), "price".into()),
                ("#amount".into(), "trade_amount_usd".into()),
                ("#trade".into(), "trade_enabled".into()),
                ("#created".into(), "created_at".into()),
                ("#blocked".into(), "blocked".into()),
            ])))
            .set_expression_attribute_values(Some(HashMap::from([
                (":symbol".into(), s(msg.symbol.as_str())),
                (":side".into(), s(msg.side.as_str())),
                (":price".into(), s(msg.price.to_string())),
                (":amount".into(), s(msg.trade_amount_usd.to_string())),
                (":trade".into(), AttributeValue::Bool(msg.trade_enabled)),
                (":created".into(), s(rfc3339(msg.emitted_at))),
                (":blocked".into(), AttributeValue::Bool(false)),
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
                    .ok_or_else(|| StoreError::Corrupt(format!("{op}: conflict without ALL_OLD item"))),
                other => Err(StoreError::backend(op, other)),
            },
        }
    }

    /// One day of a table's `by_day` index, newest first, until `cap` items; `sent` filters to sent signals (of a
    /// side).
    async fn query_day(
        &self,
        table: &str,
        day: String,
        since: &str,
        until: &str,
        sent: Option<Option<Side>>,
        cap: usize,
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
                Some(k) if !k.is_empty() && items.len() < cap => start = Some(k),
                _ => return Ok(items),
            }
        }
    }
}

#[async_trait]
impl SignalStore for DynamoStore {
    async fn put_new(&self, signal: &SignalRecord) -> Result<PutOutcome<SignalRecord>, StoreError> {
        match self
            .put_if_absent(
                &self.tables.signals,
                signal_item(signal, self.tables.retention_days),
                "signal_id",
                "PutItem signals",
            )
            .await?
        {
            None => Ok(PutOutcome::Created),
            Some(old) => Ok(PutOutcome::Exists(signal_from(&old)?)),
        }
    }

    async fn created_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<SignalRecord>, StoreError> {
        let (a, b) = (rfc3339(since), rfc3339(until));
        let days = days_between(since, until);
        let per_day = try_join_all(
            days.into_iter()
                .map(|d| self.query_day(&self.tables.signals, d, &a, &b, None, usize::MAX)),
        )
        .await?;
        let mut out = per_day
            .iter()
            .flatten()
            .map(signal_from)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|x, y| {
            y.created_at
                .cmp(&x.created_at)
                .then_with(|| y.signal_id.cmp(&x.signal_id))
        });
        Ok(out)
    }

    /// Without a limit (the sweeper), every day of the window is queried concurrently. With one (the API), days are
    /// read newest first, each capped at what is still missing, until the limit is reached — a report reads about
    /// `limit` rows, however many the window holds.
    async fn recent_sent(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        side: Option<Side>,
        limit: Option<usize>,
    ) -> Result<Vec<SignalRecord>, StoreError> {
        let (a, b) = (rfc3339(since), rfc3339(until));
        let days = days_between(since, until);
        let mut items = Vec::new();
        if let Some(limit) = limit {
            for day in days.into_iter().rev() {
                let missing = limit.saturating_sub(items.len());
                if missing == 0 {
                    break;
                }
                items.extend(
                    self.query_day(&self.tables.signals, day, &a, &b, Some(side), missing)
                        .await?,
                );
            }
        } else {
            let all = try_join_all(
                days.into_iter()
                    .map(|d| self.query_day(&self.tables.signals, d, &a, &b, Some(side), usize::MAX)),
            )
            .await?;
            items.extend(all.into_iter().flatten());
        }
        let mut out = items.iter().map(signal_from).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|x, y| {
            y.created_at
                .cmp(&x.created_at)
                .then_with(|| y.signal_id.cmp(&x.signal_id))
        });
        if let Some(limit) = limit {
            out.truncate(limit);
        }
        Ok(out)
    }

    async fn get_signals(&self, ids: &[SignalId]) -> Result<Vec<SignalRecord>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|k| k.to_string()).collect();
        self.batch_get(&self.tables.signals, "signal_id", &keys)
            .await?
            .iter()
            .map(signal_from)
            .collect()
    }

    async fn record_alert(&self, signal_id: &SignalId, sent_message_id: Option<i64>) -> Result<(), StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.tables.signals)
            .key("signal_id", s(signal_id.as_str()))
            .condition_expression("attribute_exists(signal_id)")
            .expression_attribute_values(":st", s(SignalAlertStatus::of_delivery(sent_message_id).as_str()));
        req = match sent_message_id {
            Some(id) => req
                .update_expression("SET alert_status = :st, alert_message_id = :id")
                .expression_attribute_values(":id", n(id)),
            None => req.update_expression("SET alert_status = :st"),
        };
        req.send()
            .await
            .map_err(|e| StoreError::backend("UpdateItem signals (alert)", e))?;
        Ok(())
    }

    async fn record_decision(
        &self,
        signal_id: &SignalId,
        key: &IdempotencyKey,
        d: &Decision,
    ) -> Result<bool, StoreError> {
        let (expr, values) = decision_update(d, key);
        let res = self
            .client
            .update_item()
            .table_name(&self.tables.signals)
            .key("signal_id", s(signal_id.as_str()))
            .update_expression(expr)
            .condition_expression("attribute_exists(signal_id) AND attribute_not_exists(decision_type)")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::None)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(c) => {
                    let Some(old) = c.item else {
                        return Err(StoreError::Corrupt(format!("signal {signal_id} does not exist")));
                    };
                    // A decision is already there: fine when it is the same outcome (a redelivery), not otherwise.
                    Ok(opt_s(&old, "decision_type") == Some(d.decision_type.as_str())
                        && opt_s(&old, "reason_code") == Some(d.reason_code.as_str()))
                }
                other => Err(StoreError::backend("UpdateItem signals", other)),
            },
        }
    }
}

#[async_trait]
impl IntentStore for DynamoStore {
    /// One TransactWriteItems: a ConditionCheck that the signal row exists and agrees with the message, and the
    /// conditional put of the intent. Both return the stored item on a failed condition, so the happy path is one
    /// write request and the others need no read either.
    async fn claim(&self, req: ClaimRequest<'_>) -> Result<Claim, StoreError> {
        let (intent, msg) = (req.intent, req.msg);
        let build = |e| StoreError::backend("TransactWriteItems claim (build)", e);
        let check = self.signal_check(msg)?;
        let put = Put::builder()
            .table_name(&self.tables.intents)
            .set_item(Some(intent_item(intent, self.tables.retention_days)))
            .condition_expression("attribute_not_exists(idempotency_key)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build)?;
        let mut items = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        // The risk guard's items (docs/DESIGN.md §11): the control row's version, then one add per counter.
        let control_at = items.len();
        if let Some(version) = req.control_version {
            items.push(risk::control_check(&self.tables.risk, version)?);
        }
        let counters_at = items.len();
        let expires = expires_at(intent.created_at, self.tables.retention_days);
        for r in req.reservations {
            items.push(risk::reserve(&self.tables.risk, r, expires)?);
        }
        if let Some(alert) = req.alert {
            items.push(self.outbox_put(alert)?);
        }
        let cancelled = match self.claim_transaction(items).await? {
            None => return Ok(Claim::Created),
            Some(cancelled) => cancelled,
        };
        let failed = |i: usize| {
            cancelled
                .cancellation_reasons()
                .get(i)
                .filter(|r| r.code() == Some("ConditionalCheckFailed"))
        };
        if let Some(reason) = failed(0) {
            let row = reason.item().map(signal_from).transpose()?;
            return Ok(Claim::SignalMismatch(msg.mismatch_reason(row.as_ref())));
        }
        if let Some(old) = failed(1).and_then(|r| r.item()) {
            return Ok(Claim::Exists(Box::new(intent_from(old)?)));
        }
        if let Some(reason) = failed(control_at).filter(|_| req.control_version.is_some()) {
            return Ok(Claim::ControlChanged(Box::new(risk::control_from(reason.item())?)));
        }
        if let Some(index) = (0..req.reservations.len()).find(|i| failed(counters_at + i).is_some()) {
            let used = risk::usage_from(failed(counters_at + index).and_then(|r| r.item()))?;
            return Ok(Claim::LimitExceeded { index, used });
        }
        // Cancelled for another reason (a conflicting concurrent transaction, throttling): try again later.
        Err(StoreError::backend(
            "TransactWriteItems claim",
            TransactWriteItemsError::TransactionCanceledException(cancelled),
        ))
    }

    async fn intents_created_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<OrderIntent>, StoreError> {
        let (a, b) = (rfc3339(since), rfc3339(until));
        let days = days_between(since, until);
        let intents = &self.tables.intents;
        let per_day = try_join_all(
            days.into_iter()
                .map(|d| self.query_day(intents, d, &a, &b, None, usize::MAX)),
        )
        .await?;
        per_day.iter().flatten().map(intent_from).collect()
    }

    async fn get_many(&self, keys: &[IdempotencyKey]) -> Result<Vec<OrderIntent>, StoreError> {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        self.batch_get(&self.tables.intents, "idempotency_key", &keys)
            .await?
            .iter()
            .map(intent_from)
            .collect()
    }

    async fn finalize(&self, f: &Finalization) -> Result<FinalizeOutcome, StoreError> {
        let build = |e| StoreError::backend("TransactWriteItems (build)", e);
        let intent_put = Put::builder()
            .table_name(&self.tables.intents)
            .set_item(Some(intent_item(&f.intent, self.tables.retention_days)))
            .condition_expression("attempt = :mine")
            .expression_attribute_values(":mine", n(f.intent.attempt))
            .build()
            .map_err(build)?;
        let (expr, mut values) = decision_update(&f.decision, &f.intent.idempotency_key);
        values.insert(":dt".into(), s(f.decision.decision_type.as_str()));
        values.insert(":rc".into(), s(f.decision.reason_code.as_str()));
        let signal_update = Update::builder()
            .table_name(&self.tables.signals)
            .key("signal_id", s(f.signal_id.as_str()))
            .update_expression(expr)
            .condition_expression(
                "attribute_exists(signal_id) AND (attribute_not_exists(decision_type) OR (decision_type = :dt AND reason_code = :rc))",
            )
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build)?;
        let mut items = vec![
            TransactWriteItem::builder().put(intent_put).build(),
            TransactWriteItem::builder().update(signal_update).build(),
        ];
        if let Some(alert) = &f.alert {
            items.push(self.outbox_put(alert)?);
        }
        let expires = expires_at(f.intent.created_at, self.tables.retention_days);
        for d in &f.counters {
            items.push(risk::apply(&self.tables.risk, d, expires)?);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(FinalizeOutcome::Committed),
            Err(e) => match e.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let failed: Vec<bool> = c
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code() == Some("ConditionalCheckFailed"))
                        .collect();
                    let signal_gone = c.cancellation_reasons().get(1).is_some_and(|r| r.item().is_none());
                    match failed.as_slice() {
                        [true, ..] => Ok(FinalizeOutcome::Fenced),
                        [false, true, ..] if signal_gone => Ok(FinalizeOutcome::SignalMissing),
                        [false, true, ..] => Ok(FinalizeOutcome::DecisionConflict),
                        // Only the outbox row existed: keep it (its message is on its way), commit the rest.
                        [false, false, true, ..] if f.alert.is_some() => {
                            let without = Finalization {
                                alert: None,
                                ..f.clone()
                            };
                            Box::pin(self.finalize(&without)).await
                        }
                        _ => Err(StoreError::backend(
                            "TransactWriteItems",
                            TransactWriteItemsError::TransactionCanceledException(c),
                        )),
                    }
                }
                other => Err(StoreError::backend("TransactWriteItems", other)),
            },
        }
    }

    async fn take_over(&self, seen: &OrderIntent, lease_until_ms: i64) -> Result<Option<OrderIntent>, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.tables.intents)
            .key("idempotency_key", s(seen.idempotency_key.as_str()))
            .update_expression("SET attempt = :next, lease_until_ms = :lease")
            .condition_expression("attempt = :seen")
            .expression_attribute_values(":seen", n(seen.attempt))
            .expression_attribute_values(":next", n(seen.attempt + 1))
            .expression_attribute_values(":lease", n(lease_until_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| StoreError::Corrupt("takeover returned no item".into()))?;
                Ok(Some(intent_from(&item)?))
            }
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::backend("UpdateItem order_intents (takeover)", e)),
        }
    }

    async fn save_owned(&self, intent: &OrderIntent) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.tables.intents)
            .set_item(Some(intent_item(intent, self.tables.retention_days)))
            .condition_expression("attempt = :mine")
            .expression_attribute_values(":mine", n(intent.attempt))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                Ok(false)
            }
            Err(e) => Err(StoreError::backend("PutItem order_intents (owned)", e)),
        }
    }
}

#[async_trait]
impl AlertStore for DynamoStore {
    async fn get_many(&self, alert_ids: &[String]) -> Result<Vec<AlertRecord>, StoreError> {
        self.batch_get(&self.tables.alerts, "alert_id", alert_ids)
            .await?
            .iter()
            .map(alert_from)
            .collect()
    }

    async fn put_new(&self, alert: &AlertRecord) -> Result<bool, StoreError> {
        let existing = self
            .put_if_absent(
                &self.tables.alerts,
                alert_item(alert, self.tables.retention_days),
                "alert_id",
                "PutItem alerts",
            )
            .await?;
        Ok(existing.is_none())
    }

    async fn mark_sent(&self, alert_id: &str, telegram_message_id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.alerts)
            .key("alert_id", s(alert_id))
            .update_expression("SET #s = :sent, telegram_message_id = :mid, sent_at = :at ADD attempts :one")
            .condition_expression("attribute_exists(alert_id)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":sent", s(AlertStatus::Sent.as_str()))
            .expression_attribute_values(":mid", n(telegram_message_id))
            .expression_attribute_values(":at", s(rfc3339(at)))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(|e| StoreError::backend("UpdateItem alerts (sent)", e))?;
        Ok(())
    }

    async fn mark_failed_attempt(&self, alert_id: &str, error: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.alerts)
            .key("alert_id", s(alert_id))
            .update_expression("SET last_error = :e ADD attempts :one")
            .condition_expression("attribute_exists(alert_id)")
            .expression_attribute_values(":e", s(error.chars().take(500).collect::<String>()))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(|e| StoreError::backend("UpdateItem alerts (failed attempt)", e))?;
        Ok(())
    }
}

#[async_trait]
impl WatchlistStore for DynamoStore {
    /// The watchlist is a small configuration table read whole once per evaluator run.
    /// The symbols from the `by_list` index (keys only), then the rows by BatchGetItem with consistent reads, so
    /// the throttle state is current. No Scan.
    async fn list(&self) -> Result<Vec<WatchlistEntry>, StoreError> {
        let mut symbols = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.tables.watchlist)
                .index_name("by_list")
                .key_condition_expression("#l = :l")
                .expression_attribute_names("#l", "list")
                .expression_attribute_values(":l", s(WATCHLIST_LIST))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::backend("Query watchlist", e))?;
            symbols.extend(
                resp.items
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|i| opt_s(i, "symbol").map(str::to_string)),
            );
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let rows = self.batch_get(&self.tables.watchlist, "symbol", &symbols).await?;
        let mut out = rows.iter().map(watchlist_from).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(out)
    }

    async fn record_emission(
        &self,
        symbol: &Symbol,
        side: Side,
        prev: Option<&Emission>,
        new: &Emission,
    ) -> Result<bool, StoreError> {
        let p = if side == Side::Buy { "last_buy" } else { "last_sell" };
        // The same claim already stored also passes: an SDK retry of this very write, whose first answer was lost
        // after it was applied, is then a success and not "another run was first".
        let (set_token, again) = match new.claim_token {
            Some(_) => (format!(", {p}_claim = :tok"), format!(" OR {p}_claim = :tok")),
            None => (String::new(), String::new()),
        };
        let mut req = self
            .client
            .update_item()
            .table_name(&self.tables.watchlist)
            .key("symbol", s(symbol.as_str()))
            .update_expression(format!(
                "SET {p}_ms = :ms, {p}_price = :price, {p}_signal_id = :sid, {p}_claimed_ms = :at{set_token}"
            ))
            .expression_attribute_values(":ms", n(new.candle_open_ms))
            .expression_attribute_values(":at", n(new.claimed_at_ms.unwrap_or_default()))
            .expression_attribute_values(":price", s(new.price.to_string()))
            .expression_attribute_values(":sid", s(new.signal_id.clone().unwrap_or_default()));
        if let Some(token) = &new.claim_token {
            req = req.expression_attribute_values(":tok", s(token.clone()));
        }
        req = match prev {
            None => req.condition_expression(format!(
                "attribute_exists(symbol) AND (attribute_not_exists({p}_ms){again})"
            )),
            Some(prev) => req
                .condition_expression(format!("attribute_exists(symbol) AND ({p}_ms = :prev{again})"))
                .expression_attribute_values(":prev", n(prev.candle_open_ms)),
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::backend("UpdateItem watchlist (throttle)", e)),
        }
    }
}

/// `expires_at` of a row created at `created_at`: epoch seconds, the tables' TTL attribute.
fn expires_at(created_at: DateTime<Utc>, retention_days: i64) -> i64 {
    created_at
        .timestamp()
        .saturating_add(retention_days.saturating_mul(86_400))
}

/// Every UTC day touched by `[since, until]`, as `by_day` partition keys.
fn days_between(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let mut days = Vec::new();
    let mut d: NaiveDate = since.date_naive();
    while d <= until.date_naive() {
        days.push(d.format("%Y-%m-%d").to_string());
        d += Duration::days(1);
    }
    days
}

// ---- item mapping ---------------------------------------------------------------------------------------------

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn req_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    opt_s(item, name).ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a string")))
}
fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}
fn req_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a number")))
}
fn opt_bool(item: &Item, name: &str) -> Option<bool> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied()
}
fn parse<T, E: std::fmt::Display>(
    name: &str,
    raw: &str,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    f(raw).map_err(|e| StoreError::Corrupt(format!("attribute {name}={raw:?}: {e}")))
}
fn req_time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    parse(name, req_s(item, name)?, |r| {
        DateTime::parse_from_rfc3339(r).map(|t| t.with_timezone(&Utc))
    })
}
fn req_decimal(item: &Item, name: &str) -> Result<Decimal, StoreError> {
    parse(name, req_s(item, name)?, |r| r.parse::<Decimal>())
}
fn opt_decimal(item: &Item, name: &str) -> Result<Option<Decimal>, StoreError> {
    opt_s(item, name)
        .map(|r| parse(name, r, |r| r.parse::<Decimal>()))
        .transpose()
}
fn wire<T>(item: &Item, name: &str, f: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    let raw = req_s(item, name)?;
    f(raw).ok_or_else(|| StoreError::Corrupt(format!("attribute {name}={raw:?} is not a known value")))
}
fn opt_wire<T>(item: &Item, name: &str, f: fn(&str) -> Option<T>) -> Result<Option<T>, StoreError> {
    opt_s(item, name).is_some().then(|| wire(item, name, f)).transpose()
}
fn symbol(item: &Item) -> Result<Symbol, StoreError> {
    parse("symbol", req_s(item, "symbol")?, Symbol::parse)
}
fn side(item: &Item) -> Result<Side, StoreError> {
    parse("side", req_s(item, "side")?, Side::parse)
}
fn put_opt(item: &mut Item, name: &str, v: Option<AttributeValue>) {
    if let Some(v) = v {
        item.insert(name.to_string(), v);
    }
}

fn signal_item(x: &SignalRecord, retention_days: i64) -> Item {
    let mut item: Item = HashMap::from([
        ("signal_id".into(), s(x.signal_id.as_str())),
        ("symbol".into(), s(x.symbol.as_str())),
        ("side".into(), s(x.side.as_str())),
        ("price".into(), s(x.price.to_string())),
        ("strategy".into(), s(&x.strategy)),
        (
            "indicators".into(),
            AttributeValue::M(
                x.indicators
                    .iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(k, v)| (k.clone(), n(v)))
                    .collect(),
            ),
        ),
        ("candle_open_ms".into(), n(x.candle_open_ms)),
        ("created_at".into(), s(rfc3339(x.created_at))),
        ("day".into(), s(day_of(x.created_at))),
        ("expires_at".into(), n(expires_at(x.created_at, retention_days))),
        ("blocked".into(), AttributeValue::Bool(x.blocked)),
        ("message".into(), s(&x.message)),
        ("trade_amount_usd".into(), s(x.trade_amount_usd.to_string())),
        ("trade_enabled".into(), AttributeValue::Bool(x.trade_enabled)),
        (
            "notify_order_placed".into(),
            AttributeValue::Bool(x.notify_order_placed),
        ),
        ("idempotency_key".into(), s(x.idempotency_key().as_str())),
    ]);
    put_opt(&mut item, "blocked_reason", x.blocked_reason.map(|r| s(r.as_str())));
    let alert_status = x
        .alert_status
        .or_else(|| x.blocked.then_some(SignalAlertStatus::Blocked));
    put_opt(&mut item, "alert_status", alert_status.map(|a| s(a.as_str())));
    put_opt(&mut item, "alert_message_id", x.alert_message_id.map(n));
    if let Some(d) = &x.decision {
        for (k, v) in decision_attrs(d) {
            item.insert(k.to_string(), v);
        }
    }
    item
}

fn decision_attrs(d: &Decision) -> Vec<(&'static str, AttributeValue)> {
    let mut v = vec![
        ("decision_type", s(d.decision_type.as_str())),
        ("reason_code", s(d.reason_code.as_str())),
        ("reason_message", s(&d.reason_message)),
        (
            "context",
            AttributeValue::M(d.context.iter().map(|(k, v)| (k.clone(), s(v))).collect()),
        ),
        ("correlation_id", s(&d.correlation_id)),
        ("decided_at", s(rfc3339(d.decided_at))),
    ];
    if let Some(x) = &d.exchange_error_snippet {
        v.push(("exchange_error_snippet", s(x)));
    }
    if let Some(x) = &d.order_id {
        v.push(("order_id", s(x)));
    }
    v
}

/// `SET` expression and values writing a decision trace (and the signal's idempotency key).
fn decision_update(d: &Decision, key: &IdempotencyKey) -> (String, HashMap<String, AttributeValue>) {
    let mut attrs = decision_attrs(d);
    attrs.push(("idempotency_key", s(key.as_str())));
    let expr = format!(
        "SET {}",
        attrs
            .iter()
            .map(|(k, _)| format!("{k} = :{k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    (expr, attrs.into_iter().map(|(k, v)| (format!(":{k}"), v)).collect())
}

fn signal_from(item: &Item) -> Result<SignalRecord, StoreError> {
    let decision = match opt_s(item, "decision_type") {
        None => None,
        Some(_) => Some(Decision {
            decision_type: wire(item, "decision_type", DecisionType::parse)?,
            reason_code: wire(item, "reason_code", ReasonCode::parse)?,
            reason_message: opt_s(item, "reason_message").unwrap_or_default().to_string(),
            exchange_error_snippet: opt_s(item, "exchange_error_snippet").map(str::to_string),
            context: item
                .get("context")
                .and_then(|v| v.as_m().ok())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
                        .collect()
                })
                .unwrap_or_default(),
            correlation_id: opt_s(item, "correlation_id").unwrap_or_default().to_string(),
            decided_at: req_time(item, "decided_at")?,
            order_id: opt_s(item, "order_id").map(str::to_string),
        }),
    };
    let indicators: BTreeMap<String, f64> = item
        .get("indicators")
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default();
    Ok(SignalRecord {
        signal_id: parse("signal_id", req_s(item, "signal_id")?, SignalId::parse)?,
        symbol: symbol(item)?,
        side: side(item)?,
        price: req_decimal(item, "price")?,
        strategy: req_s(item, "strategy")?.to_string(),
        indicators,
        candle_open_ms: req_n(item, "candle_open_ms")?,
        created_at: req_time(item, "created_at")?,
        blocked: opt_bool(item, "blocked").unwrap_or(false),
        blocked_reason: opt_wire(item, "blocked_reason", BlockedReason::parse)?,
        message: opt_s(item, "message").unwrap_or_default().to_string(),
        trade_amount_usd: opt_decimal(item, "trade_amount_usd")?.unwrap_or_default(),
        trade_enabled: opt_bool(item, "trade_enabled").unwrap_or(true),
        notify_order_placed: opt_bool(item, "notify_order_placed").unwrap_or(true),
        alert_status: opt_wire(item, "alert_status", SignalAlertStatus::parse)?,
        alert_message_id: item
            .get("alert_message_id")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok()),
        decision,
    })
}

/// The stored form of an intent. Public for bulk loading (benchmarks, tools): production writes go through
/// [`IntentStore`], whose claim is a transaction with the signal row.
pub fn intent_item(x: &OrderIntent, retention_days: i64) -> Item {
    let mut item: Item = HashMap::from([
        ("idempotency_key".into(), s(x.idempotency_key.as_str())),
        ("signal_id".into(), s(x.signal_id.as_str())),
        ("symbol".into(), s(x.symbol.as_str())),
        ("side".into(), s(x.side.as_str())),
        ("status".into(), s(x.status.as_str())),
        ("mode".into(), s(x.mode.as_str())),
        ("client_oid".into(), s(x.client_oid.as_str())),
        ("attempt".into(), n(x.attempt)),
        ("lease_until_ms".into(), n(x.lease_until_ms)),
        ("created_at".into(), s(rfc3339(x.created_at))),
        ("day".into(), s(day_of(x.created_at))),
        ("expires_at".into(), n(expires_at(x.created_at, retention_days))),
        ("updated_at".into(), s(rfc3339(x.updated_at))),
    ]);
    put_opt(&mut item, "order_id", x.order_id.as_ref().map(s));
    if let Some(z) = &x.sizing {
        // The size and how it was reached: USD asked, the quote currency's USD price and its source, the
        // quote-currency notional, the SELL quantity, the USD value as sized.
        item.insert("amount_usd".into(), s(z.amount.0.to_string()));
        item.insert("quote_currency".into(), s(&z.quote_price.currency));
        item.insert("quote_usd_price".into(), s(z.quote_price.usd_per_unit.to_string()));
        item.insert("quote_usd_price_source".into(), s(&z.quote_price.source));
        item.insert("notional".into(), s(z.notional.amount.to_string()));
        item.insert("usd_value".into(), s(z.usd_value.0.to_string()));
        put_opt(&mut item, "quantity", z.quantity.map(|q| s(q.0.to_string())));
    }
    put_opt(&mut item, "error_code", x.error_code.map(|c| s(c.as_str())));
    put_opt(&mut item, "error_message", x.error_message.as_ref().map(s));
    put_opt(&mut item, "failure_alert_id", x.failure_alert_id.as_ref().map(s));
    if !x.reserved.is_empty() {
        // What the claim reserved, so that a definitive failure releases exactly that (docs/DESIGN.md §11).
        let json = serde_json::to_string(&x.reserved).unwrap_or_default();
        item.insert("reserved".into(), s(json));
    }
    item
}

fn sizing_from(item: &Item) -> Result<Option<Sizing>, StoreError> {
    if !item.contains_key("quote_currency") {
        return Ok(None);
    }
    let currency = req_s(item, "quote_currency")?.to_string();
    Ok(Some(Sizing {
        amount: Usd(req_decimal(item, "amount_usd")?),
        notional: QuoteAmount {
            amount: req_decimal(item, "notional")?,
            currency: currency.clone(),
        },
        quote_price: UsdPrice {
            currency,
            usd_per_unit: req_decimal(item, "quote_usd_price")?,
            source: req_s(item, "quote_usd_price_source")?.to_string(),
        },
        quantity: opt_decimal(item, "quantity")?.map(Quantity),
        usd_value: Usd(req_decimal(item, "usd_value")?),
    }))
}

fn intent_from(item: &Item) -> Result<OrderIntent, StoreError> {
    Ok(OrderIntent {
        idempotency_key: parse(
            "idempotency_key",
            req_s(item, "idempotency_key")?,
            IdempotencyKey::parse,
        )?,
        signal_id: parse("signal_id", req_s(item, "signal_id")?, SignalId::parse)?,
        symbol: symbol(item)?,
        side: side(item)?,
        status: wire(item, "status", IntentStatus::parse)?,
        mode: wire(item, "mode", TradingMode::parse)?,
        client_oid: parse("client_oid", req_s(item, "client_oid")?, ClientOid::parse)?,
        order_id: opt_s(item, "order_id").map(str::to_string),
        attempt: req_n(item, "attempt")?,
        lease_until_ms: req_n(item, "lease_until_ms")?,
        sizing: sizing_from(item)?,
        error_code: opt_wire(item, "error_code", ReasonCode::parse)?,
        error_message: opt_s(item, "error_message").map(str::to_string),
        failure_alert_id: opt_s(item, "failure_alert_id").map(str::to_string),
        reserved: opt_s(item, "reserved")
            .map(|r| {
                parse("reserved", r, |r| {
                    serde_json::from_str::<Vec<crate::risk::CounterDelta>>(r)
                })
            })
            .transpose()?
            .unwrap_or_default(),
        created_at: req_time(item, "created_at")?,
        updated_at: req_time(item, "updated_at")?,
    })
}

fn alert_item(x: &AlertRecord, retention_days: i64) -> Item {
    let mut item: Item = HashMap::from([
        ("alert_id".into(), s(&x.alert_id)),
        ("kind".into(), s(x.kind.as_str())),
        ("symbol".into(), s(x.symbol.as_str())),
        ("side".into(), s(x.side.as_str())),
        ("text".into(), s(&x.text)),
        ("status".into(), s(x.status.as_str())),
        ("attempts".into(), n(x.attempts)),
        ("created_at".into(), s(rfc3339(x.created_at))),
        ("expires_at".into(), n(expires_at(x.created_at, retention_days))),
    ]);
    put_opt(&mut item, "telegram_message_id", x.telegram_message_id.map(n));
    put_opt(&mut item, "last_error", x.last_error.as_ref().map(s));
    put_opt(&mut item, "sent_at", x.sent_at.map(|t| s(rfc3339(t))));
    item
}

fn alert_from(item: &Item) -> Result<AlertRecord, StoreError> {
    Ok(AlertRecord {
        alert_id: req_s(item, "alert_id")?.to_string(),
        kind: wire(item, "kind", AlertKind::parse)?,
        symbol: symbol(item)?,
        side: side(item)?,
        text: opt_s(item, "text").unwrap_or_default().to_string(),
        status: wire(item, "status", AlertStatus::parse)?,
        telegram_message_id: item
            .get("telegram_message_id")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok()),
        attempts: item
            .get("attempts")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        last_error: opt_s(item, "last_error").map(str::to_string),
        created_at: req_time(item, "created_at")?,
        sent_at: opt_s(item, "sent_at")
            .is_some()
            .then(|| req_time(item, "sent_at"))
            .transpose()?,
    })
}

fn emission(item: &Item, prefix: &str) -> Result<Option<Emission>, StoreError> {
    let ms_name = format!("{prefix}_ms");
    if !item.contains_key(&ms_name) {
        return Ok(None);
    }
    Ok(Some(Emission {
        candle_open_ms: req_n(item, &ms_name)?,
        price: req_decimal(item, &format!("{prefix}_price"))?,
        signal_id: opt_s(item, &format!("{prefix}_signal_id"))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        claimed_at_ms: item
            .get(&format!("{prefix}_claimed_ms"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|ms| *ms > 0),
        claim_token: opt_s(item, &format!("{prefix}_claim"))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    }))
}

fn watchlist_from(item: &Item) -> Result<WatchlistEntry, StoreError> {
    let num = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<f64>().ok())
    };
    Ok(WatchlistEntry {
        symbol: symbol(item)?,
        alert_enabled: opt_bool(item, "alert_enabled").unwrap_or(true),
        trade_enabled: opt_bool(item, "trade_enabled").unwrap_or(true),
        notify_order_placed: opt_bool(item, "notify_order_placed").unwrap_or(true),
        trade_amount_usd: match item.get("trade_amount_usd") {
            Some(AttributeValue::N(v)) | Some(AttributeValue::S(v)) => {
                parse("trade_amount_usd", v, |r| r.parse::<Decimal>())?
            }
            _ => Decimal::from(100),
        },
        preset: opt_s(item, "preset").unwrap_or("swing-aggressive").to_string(),
        min_price_change_pct: num("min_price_change_pct"),
        cooldown_minutes: num("cooldown_minutes"),
        buy_target: num("buy_target"),
        volume_min_ratio: num("volume_min_ratio"),
        timeframe: opt_s(item, "timeframe").map(str::to_string),
        rsi_method: opt_s(item, "rsi_method").map(str::to_string),
        limits: risk::symbol_limits_from(item)?,
        last_buy: emission(item, "last_buy")?,
        last_sell: emission(item, "last_sell")?,
    })
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
