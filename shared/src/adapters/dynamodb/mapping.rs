//! Attribute helpers shared by the tables' item mappings: typed reads that fail as `StoreError` with the attribute's
//! name, and the TTL and day-partition arithmetic.

use aws_sdk_dynamodb::operation::put_item::PutItemOutput;

use super::*;

/// `expires_at` of a row created at `created_at`: epoch seconds, the tables' TTL attribute.
pub(super) fn expires_at(created_at: DateTime<Utc>, retention_days: i64) -> i64 {
    created_at
        .timestamp()
        .saturating_add(retention_days.saturating_mul(86_400))
}

/// Every UTC day touched by `[since, until]`, as `by_day` partition keys.
pub(super) fn days_between(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let mut days = Vec::new();
    let mut d: NaiveDate = since.date_naive();
    while d <= until.date_naive() {
        days.push(d.format("%Y-%m-%d").to_string());
        d += Duration::days(1);
    }
    days
}

// ---- item mapping ---------------------------------------------------------------------------------------------

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn req_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    opt_s(item, name).ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a string")))
}
pub(super) fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}
pub(super) fn req_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a number")))
}
pub(super) fn opt_bool(item: &Item, name: &str) -> Option<bool> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied()
}
pub(super) fn parse<T, E: std::fmt::Display>(
    name: &str,
    raw: &str,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    f(raw).map_err(|e| StoreError::Corrupt(format!("attribute {name}={raw:?}: {e}")))
}
pub(super) fn req_time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    parse(name, req_s(item, name)?, |r| {
        DateTime::parse_from_rfc3339(r).map(|t| t.with_timezone(&Utc))
    })
}
pub(super) fn req_decimal(item: &Item, name: &str) -> Result<Decimal, StoreError> {
    parse(name, req_s(item, name)?, |r| r.parse::<Decimal>())
}
pub(super) fn opt_decimal(item: &Item, name: &str) -> Result<Option<Decimal>, StoreError> {
    opt_s(item, name)
        .map(|r| parse(name, r, |r| r.parse::<Decimal>()))
        .transpose()
}
pub(super) fn wire<T>(item: &Item, name: &str, f: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    let raw = req_s(item, name)?;
    f(raw).ok_or_else(|| StoreError::Corrupt(format!("attribute {name}={raw:?} is not a known value")))
}
pub(super) fn opt_wire<T>(item: &Item, name: &str, f: fn(&str) -> Option<T>) -> Result<Option<T>, StoreError> {
    opt_s(item, name).is_some().then(|| wire(item, name, f)).transpose()
}
pub(super) fn symbol(item: &Item) -> Result<Symbol, StoreError> {
    parse("symbol", req_s(item, "symbol")?, Symbol::parse)
}
pub(super) fn side(item: &Item) -> Result<Side, StoreError> {
    parse("side", req_s(item, "side")?, Side::parse)
}
pub(super) fn put_opt(item: &mut Item, name: &str, v: Option<AttributeValue>) {
    if let Some(v) = v {
        item.insert(name.to_string(), v);
    }
}

/// A conditional PutItem's answer: `Ok(true)` written, `Ok(false)` its condition failed (an answer, not a fault).
pub(super) fn put_applied(
    res: Result<PutItemOutput, SdkError<PutItemError>>,
    op: &'static str,
) -> Result<bool, StoreError> {
    match res {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e)) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) => {
            Ok(false)
        }
        Err(e) => Err(StoreError::backend(op, e)),
    }
}
