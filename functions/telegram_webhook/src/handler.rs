//! `POST /telegram/webhook`: the bot's commands (`/status`, `/halt REASON`, `/resume`, `/limits`, `/help`), answered
//! in the configured chat. In order: the route and the method; Telegram's `X-Telegram-Bot-Api-Secret-Token` header,
//! compared in constant time (401 otherwise); the update (400 JSON when it is not one); the chat (a command from
//! any other chat is refused and logged, answered 200 so that Telegram does not retry it); then the update is marked
//! handled with a conditional put on `update_id` — Telegram retries webhooks, and a retried `/halt` or `/resume` must
//! act once — and the command runs. Marking comes first: a crash between the two loses the command (at most once),
//! and the operator, seeing no answer, sends it again.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use shared::adapters::secrets::SecretString;
use shared::commands::{self, Command};
use shared::ports::{Clock, Notifier, Prices, Stores};
use shared::report::invariants::{self, Patience, ReportQuery};

pub const ROUTE: &str = "/telegram/webhook";
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub struct Webhook<'a> {
    /// The control row, the signals, the intents and the outbox.
    pub stores: Stores<'a>,
    pub notifier: &'a dyn Notifier,
    pub clock: &'a dyn Clock,
    pub patience: Patience,
    /// The last prices `/positions` marks open positions at (None: not marked).
    pub prices: Option<&'a dyn Prices>,
    /// The `secret_token` given to `setWebhook`; Telegram sends it in every call.
    pub secret: &'a SecretString,
    /// The only chat whose commands are obeyed (the one the alerts go to).
    pub chat_id: i64,
    /// This bot's username (`TELEGRAM_BOT_USERNAME`): a command addressed `/cmd@name` is obeyed only with this name.
    pub bot_username: Option<&'a str>,
    /// `/page`: the key operator-page links are signed with (the diagnostics key), and the API's address when it is
    /// configured (`OPERATOR_PAGE_BASE_URL`; otherwise the address the webhook was called at). None: no links.
    pub page: Option<PageLinks<'a>>,
}

#[derive(Clone, Copy)]
pub struct PageLinks<'a> {
    pub key: &'a SecretString,
    pub base_url: Option<&'a str>,
}

impl Webhook<'_> {
    pub async fn handle(&self, req: Request) -> Response<Body> {
        if req.uri().path().trim_end_matches('/') != ROUTE {
            return respond(
                StatusCode::NOT_FOUND,
                json!({ "error": "not found", "routes": [ROUTE] }),
            );
        }
        if req.method() != Method::POST {
            let mut resp = respond(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "error": "method not allowed", "allowed": ["POST"] }),
            );
            resp.headers_mut()
                .insert("allow", lambda_http::http::HeaderValue::from_static("POST"));
            return resp;
        }
        let token = req
            .headers()
            .get(SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if token.is_empty() || !self.secret.matches(token) {
            tracing::warn!(
                present = !token.is_empty(),
                "telegram webhook call refused: missing or wrong secret token"
            );
            return respond(StatusCode::UNAUTHORIZED, json!({ "error": "unauthorized" }));
        }
        let update = match commands::parse_update(req.body().as_ref()) {
            Ok(u) => u,
            Err(e) => return respond(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() })),
        };
        let (Some(chat_id), Some(text)) = (update.chat_id, update.text.as_deref()) else {
            return respond(
                StatusCode::OK,
                json!({ "ok": true, "handled": false, "why": "not a text message" }),
            );
        };
        if chat_id != self.chat_id {
            tracing::warn!(update_id = update.update_id, chat_id, from = %update.from,
                "telegram command from another chat refused");
            return respond(
                StatusCode::OK,
                json!({ "ok": true, "handled": false, "why": "chat not allowed" }),
            );
        }
        let command = commands::parse_command(text, self.bot_username);
        if let Command::ForAnotherBot(bot) = &command {
            tracing::info!(update_id = update.update_id, from = %update.from, bot = %bot, "a command for another bot: ignored");
            return respond(
                StatusCode::OK,
                json!({ "ok": true, "handled": false, "why": "for another bot" }),
            );
        }
        let base = self.page_base(&req);
        self.obey_once(&update, &command, base.as_deref()).await
    }

    /// Where the operator page is: the configured address, or the API's own domain as API Gateway reports it.
    fn page_base(&self, req: &Request) -> Option<String> {
        let page = self.page?;
        if let Some(url) = page.base_url {
            return Some(url.to_string());
        }
        match req.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
                ctx.domain_name.as_ref().map(|d| format!("https://{d}"))
            }
            _ => None,
        }
    }

    /// Marks the update handled, then runs the command and sends its answer (marking first: see the module's note).
    async fn obey_once(&self, update: &commands::Update, command: &Command, page_base: Option<&str>) -> Response<Body> {
        let now = self.clock.now();
        match self.stores.control.first_update(update.update_id, now).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(
                    update_id = update.update_id,
                    "telegram update already handled (a webhook retry)"
                );
                return respond(
                    StatusCode::OK,
                    json!({ "ok": true, "handled": false, "why": "duplicate" }),
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "could not record the telegram update; Telegram will retry it");
                return respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "storage unavailable" }),
                );
            }
        }
        tracing::info!(update_id = update.update_id, from = %update.from, command = ?command, "telegram command");
        let answer = match (command, self.page, page_base) {
            (Command::Page, Some(page), Some(base)) => {
                let (url, until) = shared::page_link::link(base, page.key, now);
                tracing::info!(update_id = update.update_id, from = %update.from, until = %until, "operator page link sent");
                format!(
                    "Operator page, good until {} UTC (15 minutes; send /page for a new one):\n{url}",
                    until.format("%H:%M")
                )
            }
            _ => self.answer(command, &update.from).await,
        };
        // The answers are plain text; the notifier sends HTML.
        if let Err(e) = self.notifier.send(&shared::text::html_escape(&answer)).await {
            tracing::error!(error = %e, "the answer to a telegram command was not delivered");
        }
        respond(StatusCode::OK, json!({ "ok": true, "handled": true }))
    }

    async fn answer(&self, command: &Command, from: &str) -> String {
        let now = self.clock.now();
        let hours = match command {
            Command::Status => Some(24),
            Command::Positions | Command::Profit => Some(commands::LEDGER_HOURS),
            _ => None,
        };
        let report = match hours {
            Some(hours) => {
                let query = ReportQuery {
                    hours,
                    limit: None,
                    side: None,
                };
                invariants::collect(self.stores, &query, now, self.patience)
                    .await
                    .map_err(|e| tracing::error!(error = %e, command = ?command, "invariants report failed"))
                    .ok()
            }
            None => None,
        };
        commands::run(command, self.stores.control, report.as_ref(), self.prices, from, now)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, command = ?command, "telegram command failed");
                format!("The command failed: {e}. Nothing may have changed; check /status.")
            })
    }
}

fn respond(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
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
    use shared::fakes::{ManualClock, MemoryNotifier, MemoryStore};
    use shared::ports::ControlStore;

    const SECRET: &str = "webhook-secret-0123456789";
    const CHAT: i64 = -1001;

    fn update(id: i64, chat: i64, text: &str) -> String {
        json!({ "update_id": id, "message": { "message_id": 1, "date": 0, "chat": { "id": chat, "type": "group" },
            "from": { "id": 42, "is_bot": false, "first_name": "Ops", "username": "ops" }, "text": text } })
        .to_string()
    }

    fn request(method: &str, token: Option<&str>, body: String) -> Request {
        let mut b = lambda_http::http::Request::builder().method(method).uri(ROUTE);
        if let Some(t) = token {
            b = b.header(SECRET_HEADER, t);
        }
        b.body(Body::from(body)).unwrap()
    }

    async fn call(store: &MemoryStore, notifier: &MemoryNotifier, req: Request) -> (StatusCode, serde_json::Value) {
        let secret = SecretString::new(SECRET.into());
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let w = Webhook {
            stores: Stores::of(store),
            notifier,
            clock: &clock,
            patience: chrono::Duration::seconds(120).into(),
            prices: None,
            secret: &secret,
            chat_id: CHAT,
            bot_username: Some("SignalBot"),
            page: None,
        };
        let resp = w.handle(req).await;
        let body = serde_json::from_slice(resp.body().as_ref()).unwrap();
        (resp.status(), body)
    }

    #[tokio::test]
    async fn the_sample_event_halts_trading() {
        let (store, notifier) = (MemoryStore::default(), MemoryNotifier::default());
        let event = include_str!("../../../events/telegram-webhook-halt.json");
        let secret = SecretString::new("local-webhook-secret-0123456789".into());
        let clock = ManualClock::new(chrono::Utc::now(), 0);
        let w = Webhook {
            stores: Stores::of(&store),
            notifier: &notifier,
            clock: &clock,
            patience: chrono::Duration::seconds(120).into(),
            prices: None,
            secret: &secret,
            chat_id: -1_000_000_000_000,
            bot_username: Some("SignalBot"),
            page: None,
        };
        let resp = w.handle(lambda_http::request::from_str(event).unwrap()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            store.control().await.unwrap().halt.unwrap().reason,
            "exchange maintenance"
        );
    }

    /// `/page` answers with a link to the operator page at the API's own address (from API Gateway's request
    /// context, as deployed), signed with the diagnostics key, which the link itself never carries.
    #[tokio::test]
    async fn page_answers_with_a_signed_link_at_the_apis_address() {
        let (store, notifier) = (MemoryStore::default(), MemoryNotifier::default());
        let event =
            include_str!("../../../events/telegram-webhook-halt.json").replace("/halt exchange maintenance", "/page");
        let secret = SecretString::new("local-webhook-secret-0123456789".into());
        let key = SecretString::new("diagnostics-key-0123456789".into());
        let now = chrono::Utc::now();
        let clock = ManualClock::new(now, 0);
        let w = |page| Webhook {
            stores: Stores::of(&store),
            notifier: &notifier,
            clock: &clock,
            patience: chrono::Duration::seconds(120).into(),
            prices: None,
            secret: &secret,
            chat_id: -1_000_000_000_000,
            bot_username: None,
            page,
        };
        let links = PageLinks {
            key: &key,
            base_url: None,
        };
        let resp = w(Some(links))
            .handle(lambda_http::request::from_str(&event).unwrap())
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let sent = notifier.sent().join("\n");
        let url = sent
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap()
            .replace("&amp;", "&");
        assert!(url.starts_with("https://abcdef1234.execute-api.eu-west-1.amazonaws.com/api/diagnostics/page?"));
        assert!(!sent.contains(key.expose()), "{sent}");
        let query = url.split_once('?').unwrap().1;
        let param = |n| shared::page_link::query_param(query, n);
        assert_eq!(
            shared::page_link::check(&key, param("expires"), param("sig"), now),
            Ok(())
        );
        // Without a key: said plainly, no link.
        let again = event.replace("100000001", "100000002");
        w(None).handle(lambda_http::request::from_str(&again).unwrap()).await;
        assert!(
            notifier.sent().last().unwrap().contains("not set up"),
            "{:?}",
            notifier.sent()
        );
    }

    #[tokio::test]
    async fn halt_from_the_chat_acts_once_and_anything_else_is_refused() {
        let (store, notifier) = (MemoryStore::default(), MemoryNotifier::default());
        let halt = update(1, CHAT, "/halt exchange maintenance");
        // Wrong or missing secret token: 401, nothing done.
        for token in [None, Some("wrong")] {
            let (status, _) = call(&store, &notifier, request("POST", token, halt.clone())).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        // Another chat: refused, nothing done.
        let (status, body) = call(
            &store,
            &notifier,
            request("POST", Some(SECRET), update(2, 999, "/halt x")),
        )
        .await;
        assert_eq!(
            (status, body["why"].as_str()),
            (StatusCode::OK, Some("chat not allowed"))
        );
        assert!(store.control().await.unwrap().halt.is_none());
        assert!(notifier.sent().is_empty());
        // The configured chat: halted, answered; the retried update changes nothing and is not answered twice.
        for _ in 0..2 {
            let (status, _) = call(&store, &notifier, request("POST", Some(SECRET), halt.clone())).await;
            assert_eq!(status, StatusCode::OK);
        }
        let h = store.control().await.unwrap().halt.unwrap();
        assert_eq!((h.reason.as_str(), h.by.as_str()), ("exchange maintenance", "@ops"));
        assert_eq!(notifier.sent().len(), 1, "{:?}", notifier.sent());
        assert!(notifier.sent()[0].contains("HALTED by @ops"));
        // /status shows it, with the invariants report.
        call(
            &store,
            &notifier,
            request("POST", Some(SECRET), update(3, CHAT, "/status")),
        )
        .await;
        let status = notifier.sent().pop().unwrap();
        assert!(
            status.contains("HALTED") && status.contains("Invariants (24 h): PASS"),
            "{status}"
        );
        // Bad requests: a JSON error each.
        let (status, _) = call(&store, &notifier, request("POST", Some(SECRET), "not json".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = call(&store, &notifier, request("GET", Some(SECRET), String::new())).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
