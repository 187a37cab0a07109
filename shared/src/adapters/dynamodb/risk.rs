//! The risk table (docs/DESIGN.md §11): the control row (`pk = control`), the day's counters (`day#{date}`,
//! `day#{date}#{symbol}`), open exposure (`exposure#{symbol}`), the circuit breaker's run (`breaker`) and handled
//! Telegram updates (`update#{id}`); plus the items the claim and the finalize transactions add to it.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{n, opt_bool, opt_s, parse, put_applied, rfc3339, s, DynamoStore, Item};
use crate::ids::Symbol;
use crate::ports::{ControlStore, StoreError};
use crate::risk::{Control, CounterDelta, Halt, Reservation, RiskLimits, Usage};

const CONTROL: &str = "control";
const BREAKER: &str = "breaker";
/// Handled Telegram updates are kept this long (Telegram gives up retrying a webhook within a day).
const UPDATE_TTL_SECONDS: i64 = 2 * 86_400;

fn build_err(e: impl Into<crate::ports::BoxError>) -> StoreError {
    StoreError::backend("TransactWriteItems risk item (build)", e)
}

/// The claim's check that the control row is still at `version` (0: there is none).
pub(super) fn control_check(table: &str, version: u64) -> Result<TransactWriteItem, StoreError> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .key("pk", s(CONTROL))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    let check = if version == 0 {
        check.condition_expression("attribute_not_exists(pk)")
    } else {
        check
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(version))
    };
    Ok(TransactWriteItem::builder()
        .condition_check(check.build().map_err(build_err)?)
        .build())
}

/// The claim's check that a symbol's watchlist limits are still `seen`: every limit attribute equal to the value
/// seen, or absent where none was (a missing row has none).
pub(super) fn limits_check(table: &str, symbol: &Symbol, seen: &RiskLimits) -> Result<TransactWriteItem, StoreError> {
    let mut conditions = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    for (i, (attr, value)) in symbol_limit_attrs(seen).into_iter().enumerate() {
        names.insert(format!("#l{i}"), attr.to_string());
        match value {
            Some(v) => {
                conditions.push(format!("#l{i} = :l{i}"));
                values.insert(format!(":l{i}"), v);
            }
            None => conditions.push(format!("attribute_not_exists(#l{i})")),
        }
    }
    let check = ConditionCheck::builder()
        .table_name(table)
        .key("symbol", s(symbol.as_str()))
        .condition_expression(conditions.join(" AND "))
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    Ok(TransactWriteItem::builder()
        .condition_check(check.build().map_err(build_err)?)
        .build())
}

/// The claim's add to one counter, conditioned on the room its limits leave.
pub(super) fn reserve(table: &str, r: &Reservation, expires_at: i64) -> Result<TransactWriteItem, StoreError> {
    let mut conditions = Vec::new();
    let mut values = HashMap::new();
    if let Some(most) = r.usd_at_most {
        conditions.push("(attribute_not_exists(usd) OR usd <= :most)");
        values.insert(":most".to_string(), n(most));
    }
    if let Some(max) = r.orders_under {
        conditions.push("(attribute_not_exists(orders) OR orders < :max)");
        values.insert(":max".to_string(), n(max));
    }
    let update = add_update(table, &r.delta, expires_at, values)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    let update = if conditions.is_empty() {
        update
    } else {
        update.condition_expression(conditions.join(" AND "))
    };
    Ok(TransactWriteItem::builder()
        .update(update.build().map_err(build_err)?)
        .build())
}

/// An unconditional add to a counter (a released reservation, a placed SELL off the exposure).
pub(super) fn apply(table: &str, d: &CounterDelta, expires_at: i64) -> Result<TransactWriteItem, StoreError> {
    let update = add_update(table, d, expires_at, HashMap::new());
    Ok(TransactWriteItem::builder()
        .update(update.build().map_err(build_err)?)
        .build())
}

fn add_update(
    table: &str,
    d: &CounterDelta,
    expires_at: i64,
    mut values: HashMap<String, AttributeValue>,
) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    values.insert(":usd".into(), n(d.usd));
    values.insert(":orders".into(), n(d.orders));
    // Day counters expire with the other records; exposure is a running figure and stays.
    let expression = if d.key.starts_with("day#") {
        values.insert(":exp".into(), n(expires_at));
        "ADD usd :usd, orders :orders SET expires_at = if_not_exists(expires_at, :exp)"
    } else {
        "ADD usd :usd, orders :orders"
    };
    Update::builder()
        .table_name(table)
        .key("pk", s(&d.key))
        .update_expression(expression)
        .set_expression_attribute_values(Some(values))
}

/// The row of the ghost orders the last reconciliation found (docs/DESIGN.md §13).
const GHOSTS: &str = "ghosts";

/// The key of a symbol's held quantity (the system's own fills, net of base fees).
fn held_key(symbol: &Symbol) -> String {
    format!("position#{symbol}")
}

/// An add to a symbol's held quantity, in a fill's transaction.
pub(super) fn add_held(table: &str, symbol: &Symbol, delta: Decimal) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .key("pk", s(held_key(symbol)))
        .update_expression("ADD qty :d")
        .expression_attribute_values(":d", n(delta))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

pub(super) fn usage_from(item: Option<&Item>) -> Result<Usage, StoreError> {
    let Some(item) = item else {
        return Ok(Usage::default());
    };
    let num = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).map(String::as_str);
    Ok(Usage {
        usd: num("usd")
            .map(|r| parse("usd", r, |r| r.parse::<Decimal>()))
            .transpose()?
            .unwrap_or_default(),
        orders: num("orders")
            .map(|r| parse("orders", r, |r| r.parse::<i64>()))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A limit attribute: a number, or `off`; absent → `default`.
fn limit<T: std::str::FromStr>(item: &Item, name: &str, default: Option<T>) -> Result<Option<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    match item.get(name) {
        None => Ok(default),
        Some(AttributeValue::S(v)) if v == "off" => Ok(None),
        Some(AttributeValue::N(v)) => parse(name, v, |r| r.parse::<T>()).map(Some),
        Some(other) => Err(StoreError::Corrupt(format!(
            "attribute {name}={other:?} is neither a number nor off"
        ))),
    }
}

fn limit_value(v: Option<impl ToString>) -> AttributeValue {
    v.map_or_else(|| s("off"), n)
}

/// The control row as stored; absent attributes take [`Control::default`]'s values.
pub(super) fn control_from(item: Option<&Item>) -> Result<Control, StoreError> {
    let defaults = Control::default();
    let Some(item) = item else {
        return Ok(defaults);
    };
    let version = limit::<u64>(item, "version", Some(0))?.unwrap_or(0);
    let halt = if opt_bool(item, "trading_halted").unwrap_or(false) {
        Some(Halt {
            announced: opt_bool(item, "halt_announced").unwrap_or(false),
            reason: opt_s(item, "halt_reason").unwrap_or_default().to_string(),
            by: opt_s(item, "halted_by").unwrap_or_default().to_string(),
            at: opt_s(item, "halted_at")
                .and_then(|r| DateTime::parse_from_rfc3339(r).ok())
                .map_or_else(|| DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc)),
        })
    } else {
        None
    };
    let d = &defaults.limits;
    Ok(Control {
        version,
        halt,
        limits: RiskLimits {
            max_order_usd: limit(item, "max_order_usd", d.max_order_usd)?,
            max_orders_per_day: limit(item, "max_orders_per_day", d.max_orders_per_day)?,
            max_notional_usd_per_day: limit(item, "max_notional_usd_per_day", d.max_notional_usd_per_day)?,
            max_exposure_usd: None,
            max_daily_loss_usd: limit(item, "max_daily_loss_usd", d.max_daily_loss_usd)?,
        },
        breaker_failures: limit(item, "breaker_failures", defaults.breaker_failures)?,
    })
}

fn control_item(c: &Control, version: u64) -> Item {
    let mut item: Item = HashMap::from([
        ("pk".into(), s(CONTROL)),
        ("version".into(), n(version)),
        ("trading_halted".into(), AttributeValue::Bool(c.halt.is_some())),
        ("max_order_usd".into(), limit_value(c.limits.max_order_usd)),
        ("max_orders_per_day".into(), limit_value(c.limits.max_orders_per_day)),
        (
            "max_notional_usd_per_day".into(),
            limit_value(c.limits.max_notional_usd_per_day),
        ),
        ("breaker_failures".into(), limit_value(c.breaker_failures)),
        ("max_daily_loss_usd".into(), limit_value(c.limits.max_daily_loss_usd)),
    ]);
    if let Some(h) = &c.halt {
        item.insert("halt_reason".into(), s(&h.reason));
        item.insert("halted_by".into(), s(&h.by));
        item.insert("halted_at".into(), s(rfc3339(h.at)));
        item.insert("halt_announced".into(), AttributeValue::Bool(h.announced));
    }
    item
}

/// A symbol's limits as stored on its watchlist row (numbers; absent = no limit).
pub(super) fn symbol_limits_from(item: &Item) -> Result<RiskLimits, StoreError> {
    Ok(RiskLimits {
        max_order_usd: limit(item, "max_order_usd", None)?,
        max_orders_per_day: limit(item, "max_orders_per_day", None)?,
        max_notional_usd_per_day: limit(item, "max_notional_usd_per_day", None)?,
        max_exposure_usd: limit(item, "max_exposure_usd", None)?,
        max_daily_loss_usd: limit(item, "max_daily_loss_usd", None)?,
    })
}

/// The watchlist attributes of a symbol's limits: set when given, removed when not.
pub(super) fn symbol_limit_attrs(l: &RiskLimits) -> [(&'static str, Option<AttributeValue>); 5] {
    [
        ("max_order_usd", l.max_order_usd.map(n)),
        ("max_orders_per_day", l.max_orders_per_day.map(n)),
        ("max_notional_usd_per_day", l.max_notional_usd_per_day.map(n)),
        ("max_exposure_usd", l.max_exposure_usd.map(n)),
        ("max_daily_loss_usd", l.max_daily_loss_usd.map(n)),
    ]
}

impl DynamoStore {
    /// Sets the quantity the system holds for `symbol` outside any fill (tests and tools: coins held before the
    /// stack's first order). Production changes it only through [`crate::ports::IntentStore::record_fill`].
    pub async fn set_held(&self, symbol: &Symbol, quantity: Decimal) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.risk)
            .item("pk", s(held_key(symbol)))
            .item("qty", n(quantity))
            .send()
            .await
            .map_err(|e| StoreError::backend("PutItem risk (held)", e))?;
        Ok(())
    }

    /// A row of the risk table, read consistently (None: absent).
    async fn risk_item(&self, key: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.risk)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("GetItem risk", e))?;
        Ok(out.item)
    }
}

#[async_trait]
impl ControlStore for DynamoStore {
    async fn control(&self) -> Result<Control, StoreError> {
        control_from(self.risk_item(CONTROL).await?.as_ref())
    }

    async fn replace_control(&self, seen: u64, next: &Control) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.risk)
            .set_item(Some(control_item(next, seen.saturating_add(1))));
        let put = if seen == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :seen")
                .expression_attribute_values(":seen", n(seen))
        };
        put_applied(put.send().await, "PutItem risk (control)")
    }

    async fn usage(&self, key: &str) -> Result<Usage, StoreError> {
        usage_from(self.risk_item(key).await?.as_ref())
    }

    async fn sells_held_elsewhere(&self, symbol: &Symbol) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.watchlist)
            .key("symbol", s(symbol.as_str()))
            .projection_expression("sell_held_elsewhere")
            .send()
            .await
            .map_err(|e| StoreError::backend("GetItem watchlist (sell_held_elsewhere)", e))?;
        Ok(out
            .item
            .as_ref()
            .and_then(|i| opt_bool(i, "sell_held_elsewhere"))
            .unwrap_or(false))
    }

    async fn protection_settings(
        &self,
        symbol: &Symbol,
    ) -> Result<crate::order::protection::ProtectionSettings, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.watchlist)
            .key("symbol", s(symbol.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("GetItem watchlist (protection)", e))?;
        let row = match &out.item {
            Some(item) => super::watchlist::watchlist_from(item)?,
            None => crate::watchlist::WatchlistEntry::new(symbol.clone()),
        };
        Ok(row.protection_settings())
    }

    async fn held(&self, symbol: &Symbol) -> Result<Decimal, StoreError> {
        let item = self.risk_item(&held_key(symbol)).await?;
        let raw = item.as_ref().and_then(|i| i.get("qty")).and_then(|v| v.as_n().ok());
        raw.map_or(Ok(Decimal::ZERO), |r| parse("qty", r, |r| r.parse::<Decimal>()))
    }

    async fn ghost_orders(&self) -> Result<(Vec<crate::order::OpenOrder>, Option<DateTime<Utc>>), StoreError> {
        let Some(item) = self.risk_item(GHOSTS).await? else {
            return Ok((Vec::new(), None));
        };
        let orders = parse("orders", super::mapping::req_s(&item, "orders")?, |r| {
            serde_json::from_str::<Vec<crate::order::OpenOrder>>(r)
        })?;
        Ok((orders, Some(super::mapping::req_time(&item, "checked_at")?)))
    }

    async fn record_ghost_orders(
        &self,
        ghosts: &[crate::order::OpenOrder],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(ghosts).map_err(|e| StoreError::Unexpected(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.tables.risk)
            .item("pk", s(GHOSTS))
            .item("orders", s(json))
            .item("checked_at", s(rfc3339(at)))
            .send()
            .await
            .map_err(|e| StoreError::backend("PutItem risk (ghosts)", e))?;
        Ok(())
    }

    async fn symbol_limits(&self, symbol: &Symbol) -> Result<RiskLimits, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.watchlist)
            .key("symbol", s(symbol.as_str()))
            .projection_expression(
                "max_order_usd, max_orders_per_day, max_notional_usd_per_day, max_exposure_usd, max_daily_loss_usd",
            )
            .send()
            .await
            .map_err(|e| StoreError::backend("GetItem watchlist (limits)", e))?;
        out.item
            .as_ref()
            .map_or_else(|| Ok(RiskLimits::default()), symbol_limits_from)
    }

    async fn record_streak(&self, failed: bool) -> Result<u32, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.risk)
            .key("pk", s(BREAKER));
        let update = if failed {
            update
                .update_expression("ADD streak :one")
                .expression_attribute_values(":one", n(1))
                .return_values(ReturnValue::UpdatedNew)
        } else {
            // Only a run in progress is reset: a placed order costs no write while nothing failed.
            update
                .update_expression("SET streak = :zero")
                .condition_expression("streak > :zero")
                .expression_attribute_values(":zero", n(0))
        };
        match update.send().await {
            Ok(out) => Ok(out
                .attributes
                .as_ref()
                .and_then(|a| a.get("streak"))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(0)
            }
            Err(e) => Err(StoreError::backend("UpdateItem risk (breaker)", e)),
        }
    }

    async fn first_update(&self, update_id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.tables.risk)
            .item("pk", s(format!("update#{update_id}")))
            .item("handled_at", s(rfc3339(at)))
            .item("expires_at", n(at.timestamp().saturating_add(UPDATE_TTL_SECONDS)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        put_applied(res, "PutItem risk (telegram update)")
    }
}
