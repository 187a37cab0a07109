//! Any answer to `sendMessage` (any status, any bytes): classified, never a panic; a delivery only with a message id.
#![no_main]
use shared::adapters::telegram::{send_outcome, SendOutcome};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let status = data.first().map_or(200, |b| 200 + u16::from(*b));
    let reply: serde_json::Value = serde_json::from_slice(data.get(1..).unwrap_or_default()).unwrap_or_default();
    if let SendOutcome::Sent(id) = send_outcome(status, &reply) {
        assert_eq!(status, 200);
        assert_eq!(reply.pointer("/result/message_id").and_then(|v| v.as_i64()), Some(id));
    }
});
