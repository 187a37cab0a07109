//! The signals table: the conditional create, the decision trace, the alert outcome, the reads by day; its item mapping.

use super::*;

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
                .map(|d| self.query_day(&self.tables.signals, d, &a, &b, None, None)),
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
                    self.query_day(&self.tables.signals, day, &a, &b, Some(side), Some(missing))
                        .await?,
                );
            }
        } else {
            let all = try_join_all(
                days.into_iter()
                    .map(|d| self.query_day(&self.tables.signals, d, &a, &b, Some(side), None)),
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
                        return Err(StoreError::NotFound(format!("signal {signal_id}")));
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

pub(super) fn signal_item(x: &SignalRecord, retention_days: i64) -> Item {
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

pub(super) fn decision_attrs(d: &Decision) -> Vec<(&'static str, AttributeValue)> {
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
pub(super) fn decision_update(d: &Decision, key: &IdempotencyKey) -> (String, HashMap<String, AttributeValue>) {
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

pub(super) fn signal_from(item: &Item) -> Result<SignalRecord, StoreError> {
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
