//! `telegram-sink ADDR [LOG_FILE]`: a local stand-in for the Telegram Bot API, for the local stack. It answers
//! `POST /bot<token>/sendMessage` like the Bot API (`{"ok":true,"result":{"message_id":N,...}}`), records every
//! message (in memory, served at `GET /messages`, and as JSON lines in LOG_FILE), and refuses anything else.
//! Loopback only: the address must be 127.0.0.1.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tests::http::{serve, HttpRequest, HttpResponse};
use tokio::net::TcpListener;

type Messages = Arc<Mutex<Vec<Value>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4588".into());
    if !addr.starts_with("127.0.0.1:") {
        return Err(format!("refusing to listen on {addr}: loopback only").into());
    }
    let log_file = std::env::args().nth(2);
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("telegram sink listening on http://{addr}");
    let messages: Messages = Arc::default();
    let server = serve(listener, move |req| {
        let (messages, log_file) = (messages.clone(), log_file.clone());
        async move { answer(&req, &messages, log_file.as_deref()) }
    });
    server.await?;
    Ok(())
}

fn answer(req: &HttpRequest, messages: &Messages, log_file: Option<&str>) -> HttpResponse {
    let reply = |status: u16, body: Value| (status, body);
    let (status, body) = if req.method == "GET" && req.path() == "/messages" {
        reply(
            200,
            Value::Array(messages.lock().unwrap_or_else(|e| e.into_inner()).clone()),
        )
    } else if !(req.method == "POST" && req.path().starts_with("/bot") && req.path().ends_with("/sendMessage")) {
        reply(
            404,
            json!({ "ok": false, "error_code": 404, "description": "Not Found" }),
        )
    } else {
        match serde_json::from_slice::<Value>(&req.body) {
            Err(_) => reply(
                400,
                json!({ "ok": false, "error_code": 400, "description": "Bad Request: invalid JSON" }),
            ),
            Ok(payload) => match (payload.get("chat_id"), payload.get("text").and_then(Value::as_str)) {
                (Some(chat_id), Some(text)) => {
                    let record = record(messages, chat_id, text, payload.get("parse_mode"), log_file);
                    let result = json!({ "message_id": record["message_id"], "date": record["date"], "chat": { "id": chat_id }, "text": text });
                    reply(200, json!({ "ok": true, "result": result }))
                }
                _ => reply(
                    400,
                    json!({ "ok": false, "error_code": 400, "description": "Bad Request: chat_id and text are required" }),
                ),
            },
        }
    };
    HttpResponse::new(status, body.to_string())
}

fn record(
    messages: &Messages,
    chat_id: &Value,
    text: &str,
    parse_mode: Option<&Value>,
    log_file: Option<&str>,
) -> Value {
    let record = {
        let mut all = messages.lock().unwrap_or_else(|e| e.into_inner());
        let record = json!({
            "message_id": all.len() + 1,
            "chat_id": chat_id,
            "parse_mode": parse_mode,
            "text": text,
            "date": chrono::Utc::now().timestamp(),
        });
        all.push(record.clone());
        record
    };
    if let Some(path) = log_file {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{record}");
        }
    }
    record
}
