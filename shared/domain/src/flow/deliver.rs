//! Delivery of outbox rows: send the alert's text through the notifier and record the outcome on the row. A failed
//! send leaves the row PENDING (attempts + 1, last_error) for the sweeper; it never touches an order decision.

use crate::outbox::AlertRecord;
use crate::ports::{AlertStore, Clock, Notifier, StoreError};

/// Sends one outbox row. Ok(Some(message_id)) when delivered, Ok(None) when the send failed and was recorded.
pub async fn deliver(
    store: &dyn AlertStore,
    notifier: &dyn Notifier,
    clock: &dyn Clock,
    alert: &AlertRecord,
) -> Result<Option<i64>, StoreError> {
    match notifier.send(&alert.text).await {
        Ok(message_id) => {
            store.mark_sent(&alert.alert_id, message_id, clock.now()).await?;
            tracing::info!(alert_id = %alert.alert_id, kind = %alert.kind, telegram_message_id = message_id, "alert sent");
            Ok(Some(message_id))
        }
        Err(e) => {
            tracing::warn!(alert_id = %alert.alert_id, kind = %alert.kind, error = %e, "alert not delivered; left PENDING");
            store.mark_failed_attempt(&alert.alert_id, &e.to_string()).await?;
            Ok(None)
        }
    }
}
