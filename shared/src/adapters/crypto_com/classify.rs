//! Classification of exchange failures into the reason codes of docs/DESIGN.md §6: typed first (Crypto.com's numeric
//! code → class, from the exchange's code table), then the original system's substring rules for free text, in
//! their original order (first match wins).
//!
//! The original's rules 2–4 and 6 (Telegram errors, its own `system_core` guards, `blocked:` guard texts, short-sell
//! flags) classify texts this system never produces from an exchange reply and map to codes outside the failure
//! classes; they are deliberately not ported. Rule 5 (the text *is* a reason code) is kept for failure codes.

use crate::decision::{DecisionType, ReasonCode};

/// What a Crypto.com response code means for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    Success,
    /// 40401 NOT_FOUND (HTTP 200): no such order.
    NotFound,
    /// 204 DUPLICATE_CLORDID: an order with this client_oid exists — look it up.
    DuplicateClientOid,
    /// 42901 TOO_MANY_REQUESTS: the request was dropped; safe to retry after a pause.
    RateLimited,
    /// 40801 REQUEST_TIMEOUT, 50001 ERR_INTERNAL: the request may have been executed — reconcile.
    Ambiguous,
    /// A definitive refusal: nothing was placed.
    Refused(ReasonCode),
}

/// The class of a Crypto.com v1 response code (reference: the exchange's code table).
pub fn code_class(code: i64) -> CodeClass {
    use ReasonCode::*;
    match code {
        0 => CodeClass::Success,
        40401 => CodeClass::NotFound,
        204 => CodeClass::DuplicateClientOid,
        42901 | 10006 => CodeClass::RateLimited,
        40801 | 50001 => CodeClass::Ambiguous,
        40101 | 40103 | 40104 | 10002 => CodeClass::Refused(AuthenticationError),
        40102 | 10007 => CodeClass::Refused(SignatureError),
        306 | 609 | 320 | 321 => CodeClass::Refused(InsufficientFunds),
        415 => CodeClass::Refused(BelowMinOrderSize),
        202
        | 207
        | 208
        | 209
        | 213
        | 218
        | 220
        | 221
        | 222
        | 223
        | 224
        | 308
        | 309
        | 314
        | 315
        | 318
        | 319
        | 325
        | 43003
        | 43004
        | 43005
        | 43012
        | 120009
        | 40001..=40006 => CodeClass::Refused(ExchangeRejected),
        _ => CodeClass::Refused(ExchangeErrorUnknown),
    }
}

/// The original's free-text rules (its §3 `classify_exchange_error`), restricted to failure classes.
pub fn classify_text(message: &str) -> ReasonCode {
    use ReasonCode::*;
    let trimmed = message.trim();
    if trimmed.is_empty() {
        return ExchangeErrorUnknown;
    }
    if let Some(code) = ReasonCode::parse(trimmed).filter(|c| c.decision_type() == DecisionType::Failed) {
        return code;
    }
    let up = trimmed.to_ascii_uppercase();
    let any = |needles: &[&str]| needles.iter().any(|n| up.contains(n));
    if any(&["AUTHENTICATION", "40101", "40103"]) || standalone_number(&up, "401") {
        return AuthenticationError;
    }
    if any(&["306", "609", "INSUFFICIENT", "BALANCE", "MARGIN"]) {
        return InsufficientFunds;
    }
    if any(&["429", "RATE LIMIT", "TOO MANY"]) {
        return RateLimit;
    }
    if any(&["TIMEOUT", "TIMED OUT"]) {
        return Timeout;
    }
    if any(&[
        "BELOW_MIN_ORDER_SIZE",
        "MIN_ORDER_SIZE",
        "QUANTITY_BELOW_MIN",
        "BELOW MIN_QUANTITY",
    ]) || code_415(&up)
    {
        return BelowMinOrderSize;
    }
    if any(&["MIN_NOTIONAL", "NOTIONAL", "AMOUNT TOO SMALL"]) {
        return MinNotionalNotMet;
    }
    if up.contains("SIGNATURE") || standalone_word(&up, "SIGN") {
        return SignatureError;
    }
    if up.contains("REJECT") {
        return ExchangeRejected;
    }
    ExchangeErrorUnknown
}

/// `(?:^|[^0-9])N(?:[^0-9]|$)`.
fn standalone_number(hay: &str, n: &str) -> bool {
    surrounded_by(hay, n, |c| !c.is_ascii_digit())
}

/// `(?:^|[^A-Z])W(?:[^A-Z]|$)` on upper-cased text.
fn standalone_word(hay: &str, w: &str) -> bool {
    surrounded_by(hay, w, |c| !c.is_ascii_uppercase())
}

fn surrounded_by(hay: &str, needle: &str, ok: impl Fn(char) -> bool) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back().is_none_or(&ok);
        let after = hay[i + needle.len()..].chars().next().is_none_or(&ok);
        before && after
    })
}

/// `code\s*[:=]\s*415\b`, case-insensitive (the text is already upper case).
fn code_415(up: &str) -> bool {
    up.match_indices("CODE").any(|(i, _)| {
        let rest = up[i + 4..].trim_start();
        let Some(rest) = rest.strip_prefix([':', '=']) else {
            return false;
        };
        let rest = rest.trim_start();
        rest.strip_prefix("415")
            .is_some_and(|r| r.chars().next().is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReasonCode::*;

    #[test]
    fn every_code_of_the_table_has_its_class() {
        let table: &[(i64, CodeClass)] = &[
            (0, CodeClass::Success),
            (40401, CodeClass::NotFound),
            (204, CodeClass::DuplicateClientOid),
            (42901, CodeClass::RateLimited),
            (40801, CodeClass::Ambiguous),
            (50001, CodeClass::Ambiguous),
            (40101, CodeClass::Refused(AuthenticationError)),
            (40103, CodeClass::Refused(AuthenticationError)),
            (40104, CodeClass::Refused(AuthenticationError)),
            (40102, CodeClass::Refused(SignatureError)),
            (306, CodeClass::Refused(InsufficientFunds)),
            (609, CodeClass::Refused(InsufficientFunds)),
            (321, CodeClass::Refused(InsufficientFunds)),
            (415, CodeClass::Refused(BelowMinOrderSize)),
            (213, CodeClass::Refused(ExchangeRejected)),
            (43012, CodeClass::Refused(ExchangeRejected)),
            (43005, CodeClass::Refused(ExchangeRejected)),
            (40004, CodeClass::Refused(ExchangeRejected)),
            (318, CodeClass::Refused(ExchangeRejected)),
            (99999, CodeClass::Refused(ExchangeErrorUnknown)),
        ];
        for (code, class) in table {
            assert_eq!(code_class(*code), *class, "code {code}");
        }
    }

    #[test]
    fn free_text_rules_in_order() {
        let cases: &[(&str, ReasonCode)] = &[
            ("", ExchangeErrorUnknown),
            ("   ", ExchangeErrorUnknown),
            ("INSUFFICIENT_FUNDS", InsufficientFunds),
            ("Authentication failed: bad key", AuthenticationError),
            ("HTTP 401 Unauthorized", AuthenticationError),
            ("error 4012", ExchangeErrorUnknown),
            ("code 40103", AuthenticationError),
            ("insufficient balance", InsufficientFunds),
            ("margin call", InsufficientFunds),
            ("HTTP 429", RateLimit),
            ("rate limit exceeded", RateLimit),
            ("too many requests", RateLimit),
            ("request timed out", Timeout),
            ("READ TIMEOUT", Timeout),
            ("qty BELOW_MIN_ORDER_SIZE", BelowMinOrderSize),
            ("Server Error: x (code: 415)", BelowMinOrderSize),
            ("code=415", BelowMinOrderSize),
            ("code=4150", ExchangeErrorUnknown),
            ("notional too low", MinNotionalNotMet),
            ("amount too small", MinNotionalNotMet),
            ("invalid signature", SignatureError),
            ("bad sign", SignatureError),
            ("design flaw", ExchangeErrorUnknown),
            ("order rejected", ExchangeRejected),
            ("something odd", ExchangeErrorUnknown),
            // Exact reason codes only for failure classes.
            ("TRADE_DISABLED", ExchangeErrorUnknown),
        ];
        for (text, code) in cases {
            assert_eq!(classify_text(text), *code, "{text:?}");
        }
    }

    #[test]
    fn precedence_follows_the_original_order() {
        // Authentication beats insufficient funds; funds beat rate limits; rate limits beat timeouts; size beats
        // notional; signature beats rejected — the first rule that matches wins.
        assert_eq!(classify_text("401 insufficient balance"), AuthenticationError);
        assert_eq!(classify_text("balance check hit rate limit"), InsufficientFunds);
        assert_eq!(classify_text("429 after timeout"), RateLimit);
        assert_eq!(classify_text("timeout: order rejected"), Timeout);
        assert_eq!(classify_text("MIN_ORDER_SIZE / notional"), BelowMinOrderSize);
        assert_eq!(classify_text("notional rejected"), MinNotionalNotMet);
        assert_eq!(classify_text("signature rejected"), SignatureError);
        // The original's substring rules are kept as they are: "306" anywhere counts.
        assert_eq!(classify_text("order 13060 rejected"), InsufficientFunds);
    }
}
