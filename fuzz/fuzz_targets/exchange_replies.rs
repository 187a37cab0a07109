//! Every Crypto.com answer the adapters read: a private call's reply (any HTTP status, any body), a get-order-detail
//! result as a lookup, a get-tickers price, get-instruments and get-risk-parameters tables.
#![no_main]
use shared::adapters::crypto_com::{order_detail, parse_instruments, parse_min_notionals, ticker_last_price, Reply};
use shared::ids::{IdempotencyKey, SignalId};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let http = data.first().map_or(200, |b| 200 + u16::from(*b));
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    let reply = Reply::parse(http, &text);
    let signal = SignalId::parse("ETH_BTC:BUY:1516579200000").expect("a valid signal id");
    let _ = order_detail(&reply, &IdempotencyKey::for_signal(&signal).client_oid());
    let _ = ticker_last_price(&reply.result, "BTC_USD");
    let _ = parse_instruments(&reply.result);
    let _ = parse_min_notionals(&reply.result);
});
