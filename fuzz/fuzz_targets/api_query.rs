//! The diagnostics API's query string (`a=1&b=2`, names may repeat): a 400 in words, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let pairs: Vec<(&str, &str)> = query.split('&').map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
    let _ = shared::report::invariants::ReportQuery::from_params(pairs);
});
