//! The alerts table (the Telegram outbox): create-if-absent and delivery outcomes; its item mapping.

use super::*;

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

pub(super) fn alert_item(x: &AlertRecord, retention_days: i64) -> Item {
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

pub(super) fn alert_from(item: &Item) -> Result<AlertRecord, StoreError> {
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
