//! Delivery of outbox rows: send the alert's text through the notifier and record the outcome on the row. A failed
//! send leaves the row PENDING (attempts + 1, last_error) for the sweeper; it never touches an order decision.

use crate::model::AlertRecord;
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

/// The BUY/SELL SIGNAL Telegram text (HTML), after the original's (times in UTC here).
pub fn signal_alert_text(s: &crate::model::SignalRecord, change_pct: Option<f64>, reason: &str) -> String {
    let (headline, emoji) = match s.side {
        crate::ids::Side::Buy => ("🟢 <b>BUY SIGNAL DETECTED</b>", "📈"),
        crate::ids::Side::Sell => ("🔴 <b>SELL SIGNAL DETECTED</b>", "📉"),
    };
    let change = match change_pct {
        None => "Primera alerta".to_string(),
        Some(c) => format!("{} {:.2}%", if c >= 0.0 { "↑" } else { "↓" }, c.abs()),
    };
    let mut parts = s.strategy.splitn(2, '-');
    let title = |w: Option<&str>| {
        let w = w.unwrap_or_default();
        w.chars()
            .next()
            .map(|c| c.to_uppercase().collect::<String>() + &w[c.len_utf8()..])
            .unwrap_or_default()
    };
    let (strategy, approach) = (title(parts.next()), title(parts.next()));
    format!(
        "{headline}\n🔴 <b>LIVE ALERT</b> - Real-time signal\n\n{emoji} Symbol: <b>{}</b>\n💵 Price: ${}\n📊 Cambio desde última alerta: {change}\n✅ Reason: {}\n🎯 Strategy: <b>{strategy}</b>\n⚖️ Approach: <b>{approach}</b>\n📅 Time: {} UTC",
        s.symbol,
        s.price.normalize(),
        html_escape(reason),
        s.created_at.format("%Y-%m-%d %H:%M:%S"),
    )
}

/// The ORDER FAILED Telegram text (HTML), as the original's first version.
pub fn order_failed_text(intent: &crate::model::OrderIntent, code: crate::model::ReasonCode) -> String {
    format!(
        "❌ <b>ORDER FAILED</b>\n\n📊 Symbol: <b>{}</b>\n🔄 Side: {}\n❌ Error: {}\n📋 Reason Code: {}\n\n<i>Signal was sent but order creation failed.</i>",
        intent.symbol,
        intent.side,
        html_escape(intent.error_message.as_deref().unwrap_or("")),
        code
    )
}

/// Text going into an HTML-mode Telegram message.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
