//! The classification of an exchange refusal: by code, then by the message's words.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let code = data.iter().take(8).fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
    let _ = shared::adapters::crypto_com::classify::code_class(code);
    let _ = shared::adapters::crypto_com::classify::classify_text(&String::from_utf8_lossy(data));
});
