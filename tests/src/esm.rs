//! What Lambda's SQS event source mapping does, done locally against the emulator: receive up to 10 messages,
//! hand them to the orchestrator handler as an `SqsEvent`, delete the ones it did not report as failed, and leave
//! the failed ones to reappear after the visibility timeout (and reach the DLQ after maxReceiveCount).

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use shared::flow::orchestration::Orchestrator;
use shared::ports::Notifier;

use crate::provision::BoxError;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainStats {
    pub batches: usize,
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// One poll: at most one batch of up to `batch_size` (≤ 10) messages. Returns None when the queue had nothing.
pub async fn poll_once(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    batch_size: i32,
    orchestrator: &Orchestrator<'_>,
    notifier: &dyn Notifier,
) -> Result<Option<DrainStats>, BoxError> {
    let resp = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(batch_size.clamp(1, 10))
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .wait_time_seconds(0)
        .send()
        .await?;
    let messages = resp.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(None);
    }
    let mut event = SqsEvent::default();
    for m in &messages {
        let mut r = SqsMessage::default();
        r.message_id = m.message_id.clone();
        r.receipt_handle = m.receipt_handle.clone();
        r.body = m.body.clone();
        r.event_source = Some("aws:sqs".into());
        event.records.push(r);
    }
    let response = orchestrator::handler::handle(orchestrator, notifier, event).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let to_delete: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| !failed.contains(&m.message_id.as_deref().unwrap_or_default()))
        .map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("d{i}"))
                .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                .build()
        })
        .collect::<Result<_, _>>()?;
    let deleted = to_delete.len();
    if deleted > 0 {
        sqs.delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(to_delete))
            .send()
            .await?;
    }
    Ok(Some(DrainStats {
        batches: 1,
        received: messages.len(),
        deleted,
        failed: failed.len(),
    }))
}

/// Polls until the queue returns nothing visible.
pub async fn drain(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    orchestrator: &Orchestrator<'_>,
    notifier: &dyn Notifier,
) -> Result<DrainStats, BoxError> {
    let mut total = DrainStats::default();
    while let Some(s) = poll_once(sqs, queue_url, 10, orchestrator, notifier).await? {
        total.batches += s.batches;
        total.received += s.received;
        total.deleted += s.deleted;
        total.failed += s.failed;
    }
    Ok(total)
}
