//! Every Crypto.com answer the adapters read: a private call's reply (any HTTP status, any body), a create-order
//! answer's classification, a get-order-detail result as a lookup and as a fill report, a get-open-orders list, a
//! get-tickers price, get-instruments and get-risk-parameters tables. Invariant beyond "no panic": a 5xx is never taken for a definitive refusal.
#![no_main]
use shared::adapters::crypto_com::{
    create_order_outcome, open_orders, order_detail, order_report, parse_instruments, parse_min_notionals,
    ticker_last_price, CreateOutcome, Reply,
};
use shared::ports::ExchangeError;
use shared::ids::{IdempotencyKey, SignalId};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the HTTP status: the ten that matter by index, any of 210–455 otherwise.
    const STATUSES: [u16; 10] = [200, 400, 401, 404, 408, 429, 500, 502, 503, 504];
    let http = data
        .first()
        .map_or(200, |b| STATUSES.get(usize::from(*b)).copied().unwrap_or(200 + u16::from(*b)));
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    let reply = Reply::parse(http, &text);
    let outcome = create_order_outcome(&reply);
    if http >= 500 && reply.code.is_none() {
        assert!(matches!(outcome, CreateOutcome::Failed(ExchangeError::Unknown { .. })), "{outcome:?}");
    }
    let signal = SignalId::parse("ETH_BTC:BUY:1516579200000").expect("a valid signal id");
    let _ = order_detail(&reply, &IdempotencyKey::for_signal(&signal).client_oid());
    // A fill report is never negative: an impossible number is an error, not a record.
    if let Ok(Some(r)) = order_report(&reply) {
        let _ = r.check();
    }
    let _ = open_orders(&reply);
    let _ = ticker_last_price(&reply.result, "BTC_USD");
    let _ = parse_instruments(&reply.result);
    let _ = parse_min_notionals(&reply.result);
});
