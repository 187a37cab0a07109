//! The order_intents table: the claim transaction, finalize, the lease takeover, the reads; its item mapping.

use sha2::{Digest, Sha256};

use super::*;
use crate::order::{Fill, FillUpdate, OrderStatus};

/// Where the claim's risk items sit in its transaction: a cancellation says which item failed by its position.
struct GuardAt {
    control: usize,
    limits: usize,
    counters: usize,
}

impl DynamoStore {
    /// The claim's items after the signal check and the intent's put: the risk guard's (docs/DESIGN.md §11) — the
    /// control row's version, the symbol's watchlist limits, one add per counter — then the outbox row.
    fn guard_items(&self, req: &ClaimRequest<'_>, items: &mut Vec<TransactWriteItem>) -> Result<GuardAt, StoreError> {
        let control = items.len();
        if let Some(version) = req.control_version {
            items.push(risk::control_check(&self.tables.risk, version)?);
        }
        let limits = items.len();
        if let Some(seen) = req.symbol_limits {
            items.push(risk::limits_check(&self.tables.watchlist, &req.msg.symbol, seen)?);
        }
        let counters = items.len();
        let expires = expires_at(req.intent.created_at, self.tables.retention_days);
        for r in req.reservations {
            items.push(risk::reserve(&self.tables.risk, r, expires)?);
        }
        if let Some(alert) = req.alert {
            items.push(self.outbox_put(alert)?);
        }
        Ok(GuardAt {
            control,
            limits,
            counters,
        })
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
        let at = self.guard_items(&req, &mut items)?;
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
        if let Some(reason) = failed(at.control).filter(|_| req.control_version.is_some()) {
            return Ok(Claim::ControlChanged(Box::new(risk::control_from(reason.item())?)));
        }
        if let Some(reason) = failed(at.limits).filter(|_| req.symbol_limits.is_some()) {
            let now = reason
                .item()
                .map_or_else(|| Ok(Default::default()), risk::symbol_limits_from)?;
            return Ok(Claim::LimitsChanged(Box::new(now)));
        }
        if let Some(index) = (0..req.reservations.len()).find(|i| failed(at.counters + i).is_some()) {
            let used = risk::usage_from(failed(at.counters + index).and_then(|r| r.item()))?;
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
        let per_day = try_join_all(days.into_iter().map(|d| self.query_day(intents, d, &a, &b, None, None))).await?;
        per_day.iter().flatten().map(intent_from).collect()
    }

    async fn open_orders(&self) -> Result<Vec<OrderIntent>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.tables.intents)
                .index_name(OPEN_FILLS_INDEX)
                .key_condition_expression("#o = :open")
                .expression_attribute_names("#o", OPEN_FILL)
                .expression_attribute_values(":open", s(OPEN))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::backend("Query order_intents (open_fills)", e))?;
            for item in resp.items.unwrap_or_default() {
                out.push(intent_from(&item)?);
            }
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
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
        let items = self.finalize_items(f)?;
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
            // Only a non-terminal intent: a finalize keeps the attempt, so a taker-over that read the intent before
            // it was finalized must not take the decided intent over (it would resend a decided order).
            .condition_expression("attempt = :seen AND #st IN (:pending, :unknown)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":pending", s(IntentStatus::Pending.as_str()))
            .expression_attribute_values(":unknown", s(IntentStatus::Unknown.as_str()))
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
                    .ok_or_else(|| StoreError::Unexpected("takeover returned no item".into()))?;
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

    /// One TransactWriteItems: the fill on the intent (conditioned on ORDER_PLACED and the version seen), the
    /// increment's outbox row, the add to `position#{symbol}`. The request token makes an SDK retry of an applied
    /// write a no-op instead of a refusal.
    async fn record_fill(&self, u: &FillUpdate) -> Result<bool, StoreError> {
        let build = |e| StoreError::backend("TransactWriteItems fill (build)", e);
        let mut values = fill_attrs(&u.fill);
        let set: Vec<String> = values.keys().map(|k| format!("{k} = :{k}")).collect();
        let mut values: Item = values.drain().map(|(k, v)| (format!(":{k}"), v)).collect();
        values.insert(":placed".into(), s(IntentStatus::OrderPlaced.as_str()));
        let condition = if u.seen_version == 0 {
            "#st = :placed AND attribute_not_exists(fill_version)"
        } else {
            values.insert(":seen".into(), n(u.seen_version));
            "#st = :placed AND fill_version = :seen"
        };
        // A final fill takes the order out of the open_fills index, unless it is a BUY that filled something: its
        // protection (docs/DESIGN.md §14) keeps it there until the protection is final.
        let remove = if u.fill.status.is_terminal() && !u.keeps_open {
            format!(" REMOVE {OPEN_FILL}")
        } else {
            String::new()
        };
        let update = Update::builder()
            .table_name(&self.tables.intents)
            .key("idempotency_key", s(u.key.as_str()))
            .update_expression(format!("SET {}{remove}", set.join(", ")))
            .condition_expression(condition)
            .expression_attribute_names("#st", "status")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build)?;
        let step = Step {
            update,
            alert: u.alert.as_ref(),
            held: (&u.symbol, u.held_delta),
            token: format!("{}#{}", u.key, u.fill.version),
        };
        self.record_step(step, "TransactWriteItems fill").await
    }

    async fn record_protection(&self, u: &crate::order::protection::ProtectionUpdate) -> Result<bool, StoreError> {
        let build = |e| StoreError::backend("TransactWriteItems protection (build)", e);
        let json = serde_json::to_string(&u.protection)
            .map_err(|e| StoreError::Unexpected(format!("protection record: {e}")))?;
        let mut values: Item = HashMap::from([
            (":placed".into(), s(IntentStatus::OrderPlaced.as_str())),
            (":p".into(), s(json)),
            (":v".into(), n(u.protection.version)),
        ]);
        let condition = if u.seen_version == 0 {
            "#st = :placed AND attribute_not_exists(#pv)"
        } else {
            values.insert(":seen".into(), n(u.seen_version));
            "#st = :placed AND #pv = :seen"
        };
        // A final protection takes the entry out of the open_fills index; until then the reconciler finds it there.
        let open = if u.protection.status.is_final() {
            format!(" REMOVE {OPEN_FILL}")
        } else {
            values.insert(":open".into(), s(OPEN));
            format!(", {OPEN_FILL} = :open")
        };
        let update = Update::builder()
            .table_name(&self.tables.intents)
            .key("idempotency_key", s(u.key.as_str()))
            .update_expression(format!("SET #pr = :p, #pv = :v{open}"))
            .condition_expression(condition)
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#pr", "protection")
            .expression_attribute_names("#pv", "protection_version")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build)?;
        let step = Step {
            update,
            alert: u.alert.as_ref(),
            held: (&u.symbol, u.held_delta),
            token: format!("{}#protection#{}", u.key, u.protection.version),
        };
        self.record_step(step, "TransactWriteItems protection").await
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
        put_applied(res, "PutItem order_intents (owned)")
    }
}

/// A step of a versioned record (a fill, a protection), for [`DynamoStore::record_step`].
struct Step<'a> {
    update: Update,
    alert: Option<&'a AlertRecord>,
    held: (&'a Symbol, Decimal),
    token: String,
}

impl DynamoStore {
    /// The finalize transaction's items: the intent (condition: this attempt still owns it), the signal's decision
    /// (condition: none yet, or the same), the order message's outbox row, the counters' changes.
    fn finalize_items(&self, f: &Finalization) -> Result<Vec<TransactWriteItem>, StoreError> {
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
        Ok(items)
    }

    /// One recorded step in one transaction: the record's conditional `update` first, then the step's outbox row and
    /// the change of the symbol's held quantity. Ok(false) when the record's condition failed (another writer was
    /// first; nothing written). The request token (from `step.token`) makes an SDK retry of an applied write a no-op.
    async fn record_step(&self, step: Step<'_>, op: &'static str) -> Result<bool, StoreError> {
        let mut items = vec![TransactWriteItem::builder().update(step.update).build()];
        if let Some(alert) = step.alert {
            items.push(self.outbox_put(alert)?);
        }
        let (symbol, held_delta) = step.held;
        if !held_delta.is_zero() {
            items.push(risk::add_held(&self.tables.risk, symbol, held_delta)?);
        }
        let token = hex::encode(&Sha256::digest(step.token)[..16]);
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(c)
                    if c.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed") =>
                {
                    Ok(false)
                }
                other => Err(StoreError::backend(op, other)),
            },
        }
    }
}

/// The sparse index of the placed orders whose fill is not final (docs/DESIGN.md §3): its key attribute, present
/// (always [`OPEN`]) only on those intents.
pub const OPEN_FILLS_INDEX: &str = "open_fills";
const OPEN_FILL: &str = "open_fill";
const OPEN: &str = "OPEN";

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
    if crate::flow::follow::is_open(x) || crate::order::intent::needs_work(x) {
        item.insert(OPEN_FILL.into(), s(OPEN));
    }
    if let Some(p) = &x.protection {
        item.insert("protection".into(), s(serde_json::to_string(p).unwrap_or_default()));
        item.insert("protection_version".into(), n(p.version));
    }
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
        item.insert("ref_price".into(), s(z.price.to_string()));
    }
    if let Some(f) = &x.fill {
        item.extend(fill_attrs(f));
    }
    put_opt(&mut item, "error_code", x.error_code.map(|c| s(c.as_str())));
    put_opt(&mut item, "error_message", x.error_message.as_ref().map(s));
    put_opt(&mut item, "failure_alert_id", x.failure_alert_id.as_ref().map(s));
    if !x.reserved.is_empty() {
        // What the claim reserved, so that a definitive failure releases exactly that (docs/DESIGN.md §11).
        let json = serde_json::to_string(&x.reserved).unwrap_or_default();
        item.insert("reserved".into(), s(json));
    }
    if !x.releases.is_empty() {
        let keys: Vec<&str> = x.releases.iter().map(IdempotencyKey::as_str).collect();
        item.insert("releases".into(), s(serde_json::to_string(&keys).unwrap_or_default()));
    }
    item
}

pub(super) fn sizing_from(item: &Item) -> Result<Option<Sizing>, StoreError> {
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
        // Rows sized before the reference price was recorded read as 0: the paper exchange cannot fill those, and
        // they show as unconfirmed orders rather than at an invented price.
        price: opt_decimal(item, "ref_price")?.unwrap_or_default(),
    }))
}

/// The recorded fill's attributes (docs/DESIGN.md §13): decimals as text, as the exchange gives them.
fn fill_attrs(f: &Fill) -> Item {
    HashMap::from([
        ("fill_status".into(), s(f.status.as_str())),
        ("filled_quantity".into(), s(f.filled_quantity.to_string())),
        ("fill_average_price".into(), s(f.average_price.to_string())),
        ("fill_fee".into(), s(f.fee.to_string())),
        ("fill_fee_currency".into(), s(&f.fee_currency)),
        ("fill_updated_at".into(), s(rfc3339(f.updated_at))),
        ("fill_version".into(), n(f.version)),
        ("fill_increments".into(), n(f.increments)),
    ])
}

fn fill_from(item: &Item) -> Result<Option<Fill>, StoreError> {
    if !item.contains_key("fill_version") {
        return Ok(None);
    }
    Ok(Some(Fill {
        status: wire(item, "fill_status", OrderStatus::parse)?,
        filled_quantity: req_decimal(item, "filled_quantity")?,
        average_price: req_decimal(item, "fill_average_price")?,
        fee: req_decimal(item, "fill_fee")?,
        fee_currency: req_s(item, "fill_fee_currency")?.to_string(),
        updated_at: req_time(item, "fill_updated_at")?,
        version: req_n(item, "fill_version")?,
        increments: req_n(item, "fill_increments")?,
    }))
}

fn releases_from(text: &str) -> Result<Vec<IdempotencyKey>, String> {
    let keys: Vec<String> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    keys.iter()
        .map(|k| IdempotencyKey::parse(k).map_err(|e| e.to_string()))
        .collect()
}

pub(super) fn intent_from(item: &Item) -> Result<OrderIntent, StoreError> {
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
        mode: wire(item, "mode", ExecutionMode::parse)?,
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
        fill: fill_from(item)?,
        protection: opt_s(item, "protection")
            .map(|r| parse("protection", r, |r| serde_json::from_str::<crate::order::Protection>(r)))
            .transpose()?,
        releases: opt_s(item, "releases")
            .map(|r| parse("releases", r, releases_from))
            .transpose()?
            .unwrap_or_default(),
        created_at: req_time(item, "created_at")?,
        updated_at: req_time(item, "updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a SELL released is read back as written: every later delivery of it sells all that is held.
    #[test]
    fn a_sells_releases_survive_the_stored_form() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let sym = crate::ids::Symbol::parse("ETH_USDT").unwrap();
        let sell = domain::fakes::sent_signal(&sym, crate::ids::Side::Sell, 2, Decimal::from(2000), at);
        let buy = domain::fakes::sent_signal(&sym, crate::ids::Side::Buy, 1, Decimal::from(2000), at);
        let mut intent = domain::fakes::intent(&sell, crate::order::IntentStatus::Pending, at, at);
        assert!(!intent_item(&intent, 30).contains_key("releases"), "none: no attribute");
        intent.releases = vec![buy.idempotency_key()];
        let back = intent_from(&intent_item(&intent, 30)).unwrap();
        assert_eq!(back.releases, intent.releases);
    }
}
