//! Crypto.com's get-candlestick answer as the evaluator reads it (any status, any clock).
#![no_main]
use shared::market::candles::Timeframe;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (head, body) = data.split_at(data.len().min(9));
    let as_of_ms = head.iter().take(8).fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
    let status = if head.get(8).is_some_and(|b| b % 4 == 0) {
        500
    } else {
        200
    };
    for tf in [Timeframe::parse("1m"), Timeframe::parse("1h"), Timeframe::parse("1D")]
        .into_iter()
        .flatten()
    {
        let _ = shared::adapters::crypto_com::candles::parse_candlestick(status, body, tf, 300, as_of_ms);
    }
});
