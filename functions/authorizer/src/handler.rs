//! The HTTP API's request authorizer (payload 2.0, simple responses). API Gateway answers a request that lacks the
//! route's identity header with 401 itself, invoking nothing; for one that has it, this function compares the header
//! with the route's secret in constant time — the diagnostics API's `X-Diagnostics-Key` with the diagnostics
//! secret's `api_key`, the Telegram webhook's `X-Telegram-Bot-Api-Secret-Token` with the Telegram secret's
//! `webhook_secret` — and API Gateway caches the answer per header value for five minutes. The operator page
//! (`/api/diagnostics/page`) is opened by a signed link instead (`shared::page_link`: its `expires` and `sig`, checked
//! at each request, never cached). So an unauthenticated caller never reaches the functions behind it, which check
//! the same secrets again.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::adapters::secrets::SecretString;
use shared::page_link::{self, PAGE_ROUTE};

pub const DIAGNOSTICS_PREFIX: &str = "/api/diagnostics/";
pub const WEBHOOK_PATH: &str = "/telegram/webhook";

pub struct Authorizer {
    pub diagnostics_key: SecretString,
    pub webhook_secret: SecretString,
}

impl Authorizer {
    /// `{"isAuthorized": …}` for one authorizer event.
    pub fn handle(&self, event: &Value) -> Value {
        self.handle_at(event, Utc::now())
    }

    /// As [`Authorizer::handle`], at `now` (a signed link's expiry is checked against it).
    pub fn handle_at(&self, event: &Value, now: DateTime<Utc>) -> Value {
        let allowed = self.allows(event, now);
        let path = event["rawPath"].as_str().unwrap_or_default();
        if !allowed {
            tracing::warn!(path, "request refused by the authorizer");
        }
        json!({ "isAuthorized": allowed })
    }

    fn allows(&self, event: &Value, now: DateTime<Utc>) -> bool {
        let path = event["rawPath"].as_str().unwrap_or_default();
        if path.trim_end_matches('/') == PAGE_ROUTE {
            let query = event["rawQueryString"].as_str().unwrap_or_default();
            let param = |name| page_link::query_param(query, name);
            return page_link::check(&self.diagnostics_key, param("expires"), param("sig"), now).is_ok();
        }
        let header = |name: &str| {
            event["headers"]
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default()
                .as_bytes()
                .to_vec()
        };
        let (given, secret) = if path.starts_with(DIAGNOSTICS_PREFIX) {
            (header("x-diagnostics-key"), &self.diagnostics_key)
        } else if path.trim_end_matches('/') == WEBHOOK_PATH {
            (header("x-telegram-bot-api-secret-token"), &self.webhook_secret)
        } else {
            return false;
        };
        !given.is_empty() && secret.matches(&given)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorizer() -> Authorizer {
        Authorizer {
            diagnostics_key: SecretString::new("diagnostics-key-0123456789".into()),
            webhook_secret: SecretString::new("webhook-secret-0123456789".into()),
        }
    }

    fn event(path: &str, header: &str, value: &str) -> Value {
        json!({ "version": "2.0", "type": "REQUEST", "rawPath": path, "headers": { header: value } })
    }

    #[test]
    fn each_route_takes_its_own_secret_only() {
        let a = authorizer();
        let allowed = |e: Value| a.handle(&e)["isAuthorized"] == true;
        assert!(allowed(event(
            "/api/diagnostics/recent-signals",
            "x-diagnostics-key",
            "diagnostics-key-0123456789"
        )));
        assert!(allowed(event(
            "/telegram/webhook",
            "X-Telegram-Bot-Api-Secret-Token",
            "webhook-secret-0123456789"
        )));
        assert!(!allowed(event(
            "/api/diagnostics/recent-signals",
            "x-diagnostics-key",
            "webhook-secret-0123456789"
        )));
        assert!(!allowed(event(
            "/telegram/webhook",
            "x-diagnostics-key",
            "diagnostics-key-0123456789"
        )));
        assert!(!allowed(event(
            "/api/diagnostics/recent-signals",
            "x-diagnostics-key",
            ""
        )));
        assert!(!allowed(event(
            "/elsewhere",
            "x-diagnostics-key",
            "diagnostics-key-0123456789"
        )));
        assert!(!allowed(json!({})));
    }

    #[test]
    fn the_operator_page_takes_a_signed_link_and_nothing_else() {
        let a = authorizer();
        let now = Utc::now();
        let (url, _) = page_link::link("https://x", &a.diagnostics_key, now);
        let query = url.split_once('?').unwrap().1;
        let page = |q: &str, key: &str| json!({ "rawPath": PAGE_ROUTE, "rawQueryString": q, "headers": { "x-diagnostics-key": key } });
        let allowed = |e: Value, at| a.handle_at(&e, at)["isAuthorized"] == true;
        assert!(allowed(page(query, ""), now));
        let later = now + chrono::Duration::seconds(page_link::VALID_FOR_SECONDS + 1);
        assert!(!allowed(page(query, ""), later), "expired");
        assert!(
            !allowed(page("", "diagnostics-key-0123456789"), now),
            "the key is not a link"
        );
        let other = page_link::link("https://x", &a.webhook_secret, now).0;
        assert!(
            !allowed(page(other.split_once('?').unwrap().1, ""), now),
            "signed with another key"
        );
    }

    #[test]
    fn the_sample_event_is_authorized() {
        let e: Value = serde_json::from_str(include_str!("../../../events/authorizer-request.json")).unwrap();
        let a = Authorizer {
            diagnostics_key: SecretString::new("local-diagnostics-key-0123456789".into()),
            webhook_secret: SecretString::new("unused".into()),
        };
        assert_eq!(a.handle(&e), json!({ "isAuthorized": true }));
    }
}
