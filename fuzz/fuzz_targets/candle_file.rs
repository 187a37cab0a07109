//! A replay candle file (`data/candles/*.json`, or a user's folder), then resampled as the evaluator does.
#![no_main]
use shared::market::candles::{parse_rows, resample, Timeframe};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(rows) = parse_rows(text) {
        for tf in ["5m", "1h", "1D"].into_iter().filter_map(Timeframe::parse) {
            let _ = resample(&rows, tf);
        }
    }
});
