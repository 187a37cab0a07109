//! SQS adapter for the signals queue: SendMessageBatch in groups of 10, per-entry failures reported back.

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::ports::{EnqueueFailure, SignalQueue, StoreError};
use crate::signal::SignalMessage;

/// SendMessageBatch accepts at most 10 entries.
const BATCH_MAX: usize = 10;

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

#[async_trait]
impl SignalQueue for SqsQueue {
    async fn send(&self, messages: &[SignalMessage]) -> Result<Vec<EnqueueFailure>, StoreError> {
        let mut failures = Vec::new();
        for chunk in messages.chunks(BATCH_MAX) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message_body(m.to_json())
                        .build()
                        .map_err(|e| StoreError::backend("SendMessageBatch (build)", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let resp = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| StoreError::backend("SendMessageBatch", e))?;
            for f in resp.failed() {
                let index: Option<usize> = f.id().strip_prefix('m').and_then(|i| i.parse().ok());
                if let Some(m) = index.and_then(|i| chunk.get(i)) {
                    failures.push(EnqueueFailure {
                        signal_id: m.signal_id.clone(),
                        reason: format!("{}: {}", f.code(), f.message().unwrap_or_default()),
                    });
                }
            }
        }
        Ok(failures)
    }
}
