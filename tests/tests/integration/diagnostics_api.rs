//! The diagnostics API as its callers see it, served over HTTP from the function's own handler against the
//! emulator: real responses (200, 400, 401, 404, 405) checked against the project's OpenAPI document, auth on, and
//! `scripts/verify_production_invariant.sh` exiting 0 on a healthy window, 1 after a violation is written, 2 when
//! the API cannot be reached.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use shared::fakes::ManualClock;
use shared::flow::orchestration::OrchestratorSettings;
use shared::ids::Side;
use shared::ports::SignalStore;
use tests::openapi::OpenApi;
use tests::TestEnv;

const ROUTE: &str = "/api/diagnostics/recent-signals";
const KEY: &str = "local-diagnostics-key-0123456789";

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(env: &TestEnv) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = &env.p.tables;
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_diagnostics-server"))
            .arg(format!("127.0.0.1:{port}"))
            .env("SIGNALS_TABLE", &t.signals)
            .env("ORDER_INTENTS_TABLE", &t.intents)
            .env("ALERTS_TABLE", &t.alerts)
            .env("WATCHLIST_TABLE", &t.watchlist)
            .env("RISK_TABLE", &t.risk)
            .env("DIAGNOSTICS_AUTH", "on")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tests::http_get(&base).await.is_ok() {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("diagnostics server did not start");
}

fn verify(base: &str, key: &str) -> i32 {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/verify_production_invariant.sh"
    ))
    .env("API_URL", base)
    .env("DIAGNOSTICS_KEY", key)
    .env("HOURS", "1")
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if out.status.code() == Some(0) {
        assert!(text.starts_with("PASS: true"), "{text}");
    }
    out.status.code().unwrap_or(-1)
}

#[tokio::test]
async fn responses_match_the_openapi_document_and_the_verify_script_reads_them() {
    let env = TestEnv::new("api").await;
    let store = env.store();
    store
        .set_held(
            &shared::ids::Symbol::parse("XRP_USDT").unwrap(),
            rust_decimal::Decimal::from(1_000_000),
        )
        .await
        .unwrap();
    let ago = Utc::now() - chrono::Duration::minutes(10);
    let (placed, failed) = (
        support::signal("ETH_BTC", Side::Buy, 1, ago),
        support::signal("XRP_USDT", Side::Sell, 2, ago),
    );
    for s in [&placed, &failed] {
        store.put_new(s).await.unwrap();
    }
    let clock = ManualClock::new(ago, 0);
    let ok = support::paper(1);
    let refusing = support::paper(1_000);
    let settings = OrchestratorSettings::default();
    support::orchestrator(&store, &ok, &clock, settings)
        .process(&support::message(&placed))
        .await
        .unwrap();
    let d = support::orchestrator(&store, &refusing, &clock, settings)
        .process(&support::message(&failed))
        .await
        .unwrap();
    let shared::flow::orchestration::Outcome::Decided(_, Some(alert), _) = d else {
        panic!("{d:?}")
    };
    let notifier = shared::fakes::MemoryNotifier::default();
    shared::flow::deliver::deliver(&store, &notifier, &clock, &alert)
        .await
        .unwrap();
    // The placed order's fill, read back as the orchestrator does right after the decision.
    assert_eq!(support::follow_all(&store, &ok, &notifier, &clock).await.recorded, 1);
    // And protected, as the orchestrator does once the fill is final.
    assert_eq!(support::protect_all(&store, &ok, &notifier, &clock).await.moved, 1);

    let (_server, base) = serve(&env).await;
    let api = OpenApi::new(serde_json::from_str(include_str!("../../../functions/diagnostics/openapi.json")).unwrap());
    let http = shared::adapters::http::client(Duration::from_secs(10)).unwrap();
    let cases: &[(&str, &str, Option<&str>, u16)] = &[
        ("GET", "?hours=1&side=buy", Some(KEY), 200),
        ("GET", "", Some(KEY), 200),
        ("GET", "?hours=0", Some(KEY), 400),
        ("GET", "?limit=5000", Some(KEY), 400),
        ("GET", "?side=hold", Some(KEY), 400),
        ("GET", "?hours=1&hours=2", Some(KEY), 400),
        ("GET", "", None, 401),
        ("GET", "", Some("nope"), 401),
        ("POST", "", Some(KEY), 405),
    ];
    for (verb, query, key, want) in cases {
        let mut req = http.request(verb.parse().unwrap(), format!("{base}{ROUTE}{query}"));
        if let Some(k) = key {
            req = req.header("X-Diagnostics-Key", *k);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), *want, "{verb} {query}");
        let body: Value = resp.json().await.unwrap();
        if let Err(errors) = api.check_response(ROUTE, "get", *want, &body) {
            panic!("{verb} {query} → {want} does not match the OpenAPI document: {errors:?}\n{body}");
        }
    }
    let full: Value = http
        .get(format!("{base}{ROUTE}?hours=1"))
        .header("X-Diagnostics-Key", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (full["counts"]["placed"].as_u64(), full["counts"]["failed"].as_u64()),
        (Some(1), Some(1))
    );
    let unknown = http
        .get(format!("{base}/api/diagnostics/other"))
        .header("X-Diagnostics-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(api
        .check_response(ROUTE, "get", 404, &unknown.json().await.unwrap())
        .is_ok());

    assert_eq!(verify(&base, KEY), 0, "healthy window");
    assert_eq!(verify(&base, "wrong"), 2, "refused call");
    // A sent signal with no intent, written by hand, 10 minutes old.
    store
        .put_new(&support::signal("ETH_BTC", Side::Sell, 3, ago))
        .await
        .unwrap();
    assert_eq!(verify(&base, KEY), 1, "violation");
    assert_eq!(verify("http://127.0.0.1:9", KEY), 2, "unreachable");
}

/// Debian's chromium, headless: what a person's browser makes of `html` (the DOM after parsing and layout).
fn chromium_dom(html: &str, screenshot: Option<&str>) -> String {
    let page = std::env::temp_dir().join(format!("operator-page-{}.html", std::process::id()));
    std::fs::write(&page, html).unwrap();
    let dom = chromium(&format!("file://{}", page.display()), screenshot);
    std::fs::remove_file(&page).unwrap();
    dom
}

/// The DOM headless Chromium makes of the page at `url` (and a screenshot of it, when asked).
fn chromium(url: &str, screenshot: Option<&str>) -> String {
    let run = |extra: &[String]| {
        Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
            .args(extra)
            .arg(url)
            .output()
            .unwrap_or_else(|e| panic!("chromium: {e} (Debian's chromium package; ./scripts/test.sh installs it)"))
    };
    if let Some(path) = screenshot {
        run(&[format!("--screenshot={path}"), "--window-size=1280,1100".into()]);
    }
    let out = run(&["--dump-dom".into()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The operator page through the real server, rendered by headless Chromium: the FAIL banner, the violation row and
/// the signal rows. `OPERATOR_PAGE_SCREENSHOT=path` also saves a screenshot (docs/OPERATIONS.md shows it).
#[tokio::test]
async fn the_operator_page_shows_the_banner_a_violation_and_the_signals_in_a_browser() {
    let env = TestEnv::new("page").await;
    let store = env.store();
    let ago = Utc::now() - chrono::Duration::minutes(10);
    let placed = support::signal("ETH_BTC", Side::Buy, 1, ago);
    let lost = support::signal("XRP_USDT", Side::Sell, 2, Utc::now() - chrono::Duration::hours(1));
    for s in [&placed, &lost] {
        store.put_new(s).await.unwrap();
    }
    let clock = ManualClock::new(ago, 0);
    let paper = support::paper(1);
    support::orchestrator(&store, &paper, &clock, OrchestratorSettings::default())
        .process(&support::message(&placed))
        .await
        .unwrap();
    // Its fill, read back as the orchestrator does right after the decision.
    let notifier = shared::fakes::MemoryNotifier::default();
    assert_eq!(support::follow_all(&store, &paper, &notifier, &clock).await.recorded, 1);
    // A SELL of what it bought, a minute later at a higher price: one close, realized P&L for the chart.
    let mut sold = support::signal("ETH_BTC", Side::Sell, 3, ago + chrono::Duration::minutes(1));
    sold.price *= rust_decimal::Decimal::new(11, 1);
    store.put_new(&sold).await.unwrap();
    clock.advance_ms(60_000);
    support::orchestrator(&store, &paper, &clock, OrchestratorSettings::default())
        .process(&support::message(&sold))
        .await
        .unwrap();
    assert_eq!(support::follow_all(&store, &paper, &notifier, &clock).await.recorded, 1);

    let (_server, base) = serve(&env).await;
    let http = shared::adapters::http::client(Duration::from_secs(10)).unwrap();
    let get = |accept: &'static str, key: &'static str| {
        http.get(format!("{base}{ROUTE}?hours=2"))
            .header("accept", accept)
            .header("x-diagnostics-key", key)
            .send()
    };
    assert_eq!(
        get("text/html", "nope").await.unwrap().status(),
        401,
        "the page is behind the key"
    );
    let json = get("application/json, text/html", KEY).await.unwrap();
    assert!(json.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let resp = get("text/html,application/xhtml+xml,*/*;q=0.8", KEY).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = resp.text().await.unwrap();

    let screenshot = std::env::var("OPERATOR_PAGE_SCREENSHOT").ok();
    let dom = chromium_dom(&html, screenshot.as_deref());
    // The lost signal has no intent and no decision: MISSING_INTENT and NULL_DECISION.
    assert!(dom.contains("FAIL: 2 violation(s) over 3 signal(s), last 2 h"), "{dom}");
    // The realized P&L chart, drawn in the page itself: the running sum as a line, one dot for the one close.
    let chart = &dom[dom.find("id=\"realized-chart\"").unwrap()..dom.find("id=\"open-orders\"").unwrap()];
    assert!(chart.contains("<svg") && chart.contains("<polyline"), "{chart}");
    assert_eq!(chart.matches("<circle").count(), 1, "{chart}");
    assert!(dom.contains("Trading: running"), "{dom}");
    let violations = &dom[dom.find("id=\"violations\"").unwrap()..dom.find("id=\"signals\"").unwrap()];
    assert!(
        violations.contains("MISSING_INTENT") && violations.contains(lost.signal_id.as_str()),
        "{violations}"
    );
    let signals = &dom[dom.find("id=\"signals\"").unwrap()..];
    assert!(
        signals.contains(placed.signal_id.as_str()) && signals.contains("EXECUTED"),
        "{signals}"
    );
    assert!(signals.contains("paper-"), "the placed signal's order id: {signals}");
}

/// The operator page in a browser without the key: `/page` in Telegram (the webhook built as the Lambda builds it,
/// the diagnostics key read from Secrets Manager) answers with a signed link, and headless Chromium opens the page
/// from the local API with it; a link past its 15 minutes, or with a changed signature, shows why it does not open.
#[tokio::test]
async fn the_operator_page_opens_in_a_browser_from_a_signed_link_and_refuses_an_expired_one() {
    let env = TestEnv::new("pagelink").await;
    let (_server, base) = serve(&env).await;
    let sink = support::Sink::start().await;
    let config = support::webhook_config(&env, &sink, None, Some(&base));
    let deps = telegram_webhook::wiring::Deps::new(&env.aws, config).await.unwrap();
    let update = serde_json::json!({ "update_id": 1, "message": { "message_id": 1, "date": 0,
        "chat": { "id": -1_000_000_000_000i64, "type": "group" },
        "from": { "id": 7, "is_bot": false, "first_name": "O", "username": "ops" }, "text": "/page" } });
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(telegram_webhook::handler::ROUTE)
        .header(
            telegram_webhook::handler::SECRET_HEADER,
            "local-webhook-secret-0123456789",
        )
        .body(lambda_http::Body::from(update.to_string()))
        .unwrap();
    assert_eq!(deps.webhook().handle(request).await.status(), 200);
    let texts = sink.texts().await;
    let link = texts
        .iter()
        .flat_map(|t| t.split_whitespace())
        .find(|w| w.starts_with(&base))
        .unwrap_or_else(|| panic!("no link in {texts:?}"))
        .replace("&amp;", "&");
    assert!(!link.contains(KEY) && !texts.concat().contains(KEY), "{texts:?}");

    let dom = chromium(&link, None);
    assert!(dom.contains("PASS") && dom.contains("last 24 h"), "{dom}");
    assert!(dom.contains("Trading: running"), "{dom}");

    let key = shared::adapters::secrets::SecretString::new(KEY.into());
    let (stale, _) = shared::page_link::link(&base, &key, Utc::now() - chrono::Duration::minutes(16));
    let refused = chromium(&stale, None);
    assert!(
        refused.contains("This link does not open the operator page: the link has expired"),
        "{refused}"
    );
    let forged = format!("{}{}", &link[..link.len() - 4], "0000");
    assert!(chromium(&forged, None).contains("the link's signature is wrong"));
}
