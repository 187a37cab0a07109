//! The SQS message body as the orchestrator reads it: a typed error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(body) = std::str::from_utf8(data) {
        let _ = shared::signal::SignalMessage::parse(body);
    }
});
