//! What an echo exchange answer means for the order: `ok: true` → done; a definitive refusal code → `Rejected`
//! with its reason code (docs/DESIGN.md §6); 429 → the request was dropped (`NotSent`, try again later); anything
//! else — a 5xx, a body that is not the protocol's — may have been acted on → `Unknown`, reconciled by client_oid.

use serde_json::Value;

use crate::decision::ReasonCode;
use crate::ports::ExchangeError;
use crate::text::truncate;

/// One answer: the HTTP status and the body as parsed.
#[derive(Debug, Clone)]
pub struct Reply {
    pub http: u16,
    pub ok: bool,
    pub code: Option<String>,
    pub message: String,
    pub result: Value,
    /// The body's start, kept for the decision trace.
    pub snippet: String,
}

impl Reply {
    pub fn parse(http: u16, body: &str) -> Self {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        Reply {
            http,
            ok: v["ok"] == Value::Bool(true),
            code: v["code"].as_str().map(str::to_string),
            message: v["message"].as_str().unwrap_or_default().to_string(),
            result: v["result"].clone(),
            snippet: truncate(body, 200),
        }
    }

    /// The answer as an error, when it is one; `method` names the call in the message.
    pub fn error(&self, method: &str) -> Option<ExchangeError> {
        if self.ok && self.http < 300 {
            return None;
        }
        let message = format!(
            "{method}: HTTP {} {}: {}",
            self.http,
            self.code.as_deref().unwrap_or("-"),
            self.message
        );
        Some(match (self.code.as_deref().and_then(refusal), self.http) {
            (Some(code), _) => ExchangeError::Rejected {
                code,
                message,
                snippet: self.snippet.clone(),
            },
            (None, 429) => ExchangeError::not_sent(message),
            (None, _) => ExchangeError::unknown(message),
        })
    }
}

/// The reason code of a definitive refusal; None for any other code (`DUPLICATE_CLIENT_OID` and `NOT_FOUND` are
/// answers the caller reads, not refusals).
pub fn refusal(code: &str) -> Option<ReasonCode> {
    Some(match code {
        "BAD_SIGNATURE" | "BAD_KEY" => ReasonCode::AuthenticationError,
        "INSUFFICIENT_FUNDS" => ReasonCode::InsufficientFunds,
        "MIN_NOTIONAL" => ReasonCode::MinNotionalNotMet,
        "UNKNOWN_SYMBOL" | "REFUSED" => ReasonCode::ExchangeRejected,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_sort_into_done_refused_dropped_and_unknown() {
        assert!(Reply::parse(200, r#"{"ok":true,"result":{}}"#).error("order").is_none());
        let refused = Reply::parse(400, r#"{"ok":false,"code":"INSUFFICIENT_FUNDS","message":"no"}"#);
        assert!(matches!(
            refused.error("order"),
            Some(ExchangeError::Rejected {
                code: ReasonCode::InsufficientFunds,
                ..
            })
        ));
        let signature = Reply::parse(401, r#"{"ok":false,"code":"BAD_SIGNATURE"}"#);
        assert!(matches!(
            signature.error("order"),
            Some(ExchangeError::Rejected {
                code: ReasonCode::AuthenticationError,
                ..
            })
        ));
        assert!(matches!(
            Reply::parse(429, "").error("order"),
            Some(ExchangeError::NotSent { .. })
        ));
        assert!(matches!(
            Reply::parse(502, "<html>").error("order"),
            Some(ExchangeError::Unknown { .. })
        ));
        // `ok: true` under an error status is not trusted.
        assert!(matches!(
            Reply::parse(500, r#"{"ok":true}"#).error("order"),
            Some(ExchangeError::Unknown { .. })
        ));
    }
}
