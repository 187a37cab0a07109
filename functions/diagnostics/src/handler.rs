//! Diagnostics API: `GET /api/diagnostics/recent-signals?hours=&limit=&side=` answers the invariants report of
//! docs/DESIGN.md §8, every number computed from the tables at request time. Bad input is a 400 JSON naming the
//! parameter, an unknown path a 404, another method a 405 — never a panic. A browser (`Accept: text/html`) gets the
//! same report as the operator page (`page.rs`), behind the same key; `GET /api/diagnostics/page` serves the page of the
//! last 24 hours to a signed, 15-minute link instead of the key (`shared::page_link`; 403 with the reason otherwise).

use chrono::Duration;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use shared::ports::{Clock, Store, Stores};

use shared::adapters::secrets::SecretString;
use shared::page_link::{self, PAGE_ROUTE};
use shared::report::invariants::{self, Patience, ReportQuery};

pub const ROUTE: &str = "/api/diagnostics/recent-signals";
pub const KEY_HEADER: &str = "x-diagnostics-key";

pub struct Diagnostics<'a> {
    /// The signals, the intents, the outbox, and the control row (the halt and the global limits, shown with the report).
    pub stores: Stores<'a>,
    pub clock: &'a dyn Clock,
    pub patience: Patience,
    /// The key callers must send in `X-Diagnostics-Key`; None when auth is explicitly off (local runs).
    pub api_key: Option<&'a SecretString>,
}

impl<'a> Diagnostics<'a> {
    /// The report over one store (signals, intents, alerts and the control row) with the configuration's 120 s
    /// grace; `api_key` None only where auth is explicitly off.
    pub fn over<S: Store>(store: &'a S, clock: &'a dyn Clock, api_key: Option<&'a SecretString>) -> Self {
        Diagnostics {
            stores: Stores::of(store),
            clock,
            patience: Duration::seconds(120).into(),
            api_key,
        }
    }
}

impl Diagnostics<'_> {
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let path = req.uri().path().trim_end_matches('/');
        if path != ROUTE && path != PAGE_ROUTE {
            return error(
                StatusCode::NOT_FOUND,
                "not found",
                json!({ "path": req.uri().path(), "routes": [ROUTE, PAGE_ROUTE] }),
            );
        }
        if req.method() != Method::GET {
            let mut resp = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
                json!({ "allowed": ["GET"] }),
            );
            resp.headers_mut()
                .insert("allow", lambda_http::http::HeaderValue::from_static("GET"));
            return resp;
        }
        let by_link = path == PAGE_ROUTE;
        let query = match if by_link {
            self.link_query(&req)
        } else {
            self.key_query(&req)
        } {
            Ok(q) => q,
            Err(refusal) => return *refusal,
        };
        let report = match self.report(&query).await {
            Ok(report) => report,
            Err(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "diagnostics report failed");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "could not read the tables",
                    json!({ "error": e.to_string() }),
                );
            }
        };
        tracing::info!(
            hours = query.hours,
            limit = query.limit,
            total = report.total,
            pass = report.pass,
            violations = report.violations.len(),
            by_link,
            "diagnostics report"
        );
        if by_link || wants_html(&req) {
            return page(&report);
        }
        respond(StatusCode::OK, &report)
    }

    /// The report over the tables, with the control row and the ghost orders of the last reconciliation when they
    /// can be read (the report stands without them, and the log says why).
    async fn report(&self, query: &ReportQuery) -> Result<invariants::Report, shared::ports::StoreError> {
        let now = self.clock.now();
        let mut report = invariants::collect(self.stores, query, now, self.patience).await?;
        invariants::add_control(&mut report, self.stores.control).await;
        Ok(report)
    }

    /// The JSON API: the key in `X-Diagnostics-Key`, then the report's parameters (400 naming a wrong one).
    fn key_query(&self, req: &Request) -> Result<ReportQuery, Box<Response<Body>>> {
        if let Some(expected) = self.api_key {
            let given = req.headers().get(KEY_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
            if given.is_empty() || !expected.matches(given) {
                tracing::warn!(
                    present = !given.is_empty(),
                    "diagnostics request refused: missing or wrong key"
                );
                return Err(Box::new(error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    json!({ "header": "X-Diagnostics-Key" }),
                )));
            }
        }
        let params = req.query_string_parameters();
        ReportQuery::from_params(params.iter()).map_err(|e| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                &e.to_string(),
                json!({ "parameter": e.param, "reason": e.detail }),
            ))
        })
    }

    /// The operator page by a signed link (`shared::page_link`): the last 24 hours, or a page that says why the link
    /// does not open it (403).
    fn link_query(&self, req: &Request) -> Result<ReportQuery, Box<Response<Body>>> {
        if let Some(key) = self.api_key {
            let params = req.query_string_parameters();
            let now = self.clock.now();
            if let Err(e) = page_link::check(key, params.first("expires"), params.first("sig"), now) {
                tracing::warn!(why = %e, "operator page link refused");
                let text = format!(
                    "<!doctype html><title>Operator page</title><p id=\"refused\">This link does not open the \
                     operator page: {e}. Send /page to the bot for a new one (each is good for {} minutes).</p>",
                    page_link::VALID_FOR_SECONDS / 60
                );
                let mut resp = html(text);
                *resp.status_mut() = StatusCode::FORBIDDEN;
                return Err(Box::new(resp));
            }
        }
        Ok(ReportQuery {
            hours: 24,
            limit: None,
            side: None,
        })
    }
}

/// A browser's `Accept` (text/html before any JSON): the operator page instead of the JSON.
fn wants_html(req: &Request) -> bool {
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match (accept.find("text/html"), accept.find("application/json")) {
        (Some(html), Some(json)) => html < json,
        (Some(_), None) => true,
        _ => false,
    }
}

fn page(report: &invariants::Report) -> Response<Body> {
    let value = serde_json::to_value(report).unwrap_or_default();
    html(crate::page::render(&value))
}

/// An HTML answer that no cache keeps and whose address (a signed link) no next page is told of.
fn html(text: String) -> Response<Body> {
    use lambda_http::http::HeaderValue;
    let mut resp = Response::new(Body::from(text));
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

fn error(status: StatusCode, message: &str, detail: serde_json::Value) -> Response<Body> {
    respond(status, &json!({ "error": message, "detail": detail }))
}

fn respond(status: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{\"error\":\"serialization failed\"}".into());
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::fakes::{ManualClock, MemoryStore};

    fn get(uri: &str, params: &[(&str, &str)]) -> Request {
        let mut map: std::collections::HashMap<String, Vec<String>> = Default::default();
        for (k, v) in params {
            map.entry(k.to_string()).or_default().push(v.to_string());
        }
        http::Request::builder()
            .method("GET")
            .uri(uri)
            .body(Body::Empty)
            .unwrap()
            .with_query_string_parameters(map)
    }

    fn body(r: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[tokio::test]
    async fn status_codes_and_shapes() {
        let store = MemoryStore::default();
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let d = Diagnostics::over(&store, &clock, None);

        let ok = d.handle(get(ROUTE, &[("hours", "12"), ("side", "buy")])).await;
        assert_eq!(ok.status(), 200);
        let v = body(&ok);
        assert_eq!(
            (v["pass"].as_bool(), v["hours"].as_u64(), v["total"].as_u64()),
            (Some(true), Some(12), Some(0))
        );

        for (name, value) in [("hours", "0"), ("limit", "1001"), ("side", "both"), ("hours", "abc")] {
            let r = d.handle(get(ROUTE, &[(name, value)])).await;
            assert_eq!(r.status(), 400, "{name}={value}");
            assert_eq!(body(&r)["detail"]["parameter"], name);
        }
        let repeated = d.handle(get(ROUTE, &[("limit", "1"), ("limit", "2")])).await;
        assert_eq!(repeated.status(), 400);
        assert_eq!(d.handle(get("/api/diagnostics/other", &[])).await.status(), 404);
        let post = http::Request::builder()
            .method("POST")
            .uri(ROUTE)
            .body(Body::Empty)
            .unwrap();
        assert_eq!(d.handle(post).await.status(), 405);
    }

    #[tokio::test]
    async fn api_gateway_sample_events_route_as_deployed() {
        let store = MemoryStore::default();
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let d = Diagnostics::over(&store, &clock, None);
        let ok = lambda_http::request::from_str(include_str!("../../../events/diagnostics-request.json")).unwrap();
        let r = d.handle(ok).await;
        assert_eq!(r.status(), 200);
        assert_eq!(body(&r)["hours"], 12);
        let bad = lambda_http::request::from_str(include_str!("../../../events/diagnostics-bad-request.json")).unwrap();
        let r = d.handle(bad).await;
        assert_eq!(r.status(), 400);
        assert_eq!(body(&r)["detail"]["parameter"], "hours");
    }

    #[tokio::test]
    async fn the_key_is_required_when_auth_is_on() {
        let store = MemoryStore::default();
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let key = SecretString::new("s3cret-diagnostics-key".into());
        let d = Diagnostics::over(&store, &clock, Some(&key));
        let with = |k: Option<&str>| {
            let mut r = get(ROUTE, &[]);
            if let Some(k) = k {
                r.headers_mut().insert("X-Diagnostics-Key", k.parse().unwrap());
            }
            r
        };
        assert_eq!(d.handle(with(None)).await.status(), 401);
        assert_eq!(d.handle(with(Some("s3cret-diagnostics-ke"))).await.status(), 401);
        assert_eq!(d.handle(with(Some("wrong"))).await.status(), 401);
        let refused = d.handle(with(Some(""))).await;
        assert_eq!(body(&refused)["detail"]["header"], "X-Diagnostics-Key");
        assert_eq!(d.handle(with(Some("s3cret-diagnostics-key"))).await.status(), 200);
    }

    /// The page opens by a signed link for its 15 minutes, never after, never with a changed link; the link opens
    /// the page only (the JSON API still wants the key), and the page is neither cached nor told to the next site.
    #[tokio::test]
    async fn a_signed_link_opens_the_page_until_it_expires() {
        let store = MemoryStore::default();
        let now = chrono::Utc::now();
        let clock = ManualClock::new(now, 0);
        let key = SecretString::new("s3cret-diagnostics-key".into());
        let d = Diagnostics::over(&store, &clock, Some(&key));
        let (url, _) = page_link::link("https://api.example", &key, now);
        let query = url.split_once('?').unwrap().1;
        let param = |n| page_link::query_param(query, n).unwrap();
        let open = |expires: &str, sig: &str| get(PAGE_ROUTE, &[("expires", expires), ("sig", sig)]);
        let page = d.handle(open(param("expires"), param("sig"))).await;
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["cache-control"], "no-store");
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        assert!(String::from_utf8_lossy(page.body().as_ref()).contains("PASS"));
        let forged = d.handle(open(param("expires"), &"0".repeat(64))).await;
        assert_eq!(forged.status(), 403);
        assert_eq!(d.handle(get(PAGE_ROUTE, &[])).await.status(), 403);
        let link_on_the_api = get(ROUTE, &[("expires", param("expires")), ("sig", param("sig"))]);
        assert_eq!(d.handle(link_on_the_api).await.status(), 401, "the link is not the key");
        clock.advance_ms(page_link::VALID_FOR_SECONDS * 1000);
        let expired = d.handle(open(param("expires"), param("sig"))).await;
        assert_eq!(expired.status(), 403);
        assert!(String::from_utf8_lossy(expired.body().as_ref()).contains("the link has expired"));
    }

    #[test]
    fn the_openapi_document_lists_every_reason_code() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
        let listed = &doc["components"]["schemas"]["Signal"]["properties"]["reason_code"]["enum"];
        for code in shared::decision::ReasonCode::ALL {
            assert!(
                listed.as_array().unwrap().iter().any(|c| c == code.as_str()),
                "{code} is missing from openapi.json"
            );
        }
    }
}
