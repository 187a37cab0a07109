//! `telegram-sink ADDR [LOG_FILE]`: a local stand-in for the Telegram Bot API, for the local stack. It answers
//! `POST /bot<token>/sendMessage` like the Bot API (`{"ok":true,"result":{"message_id":N,...}}`), records every
//! message (in memory, served at `GET /messages`, and as JSON lines in LOG_FILE), and refuses anything else.
//! Loopback only: the address must be 127.0.0.1.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
    loop {
        let (stream, _) = listener.accept().await?;
        let (messages, log_file) = (messages.clone(), log_file.clone());
        tokio::spawn(async move {
            if let Err(e) = serve(stream, &messages, log_file.as_deref()).await {
                eprintln!("telegram sink: {e}");
            }
        });
    }
}

async fn serve(mut stream: TcpStream, messages: &Messages, log_file: Option<&str>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return respond(
                &mut stream,
                413,
                &json!({ "ok": false, "description": "Request Entity Too Large" }),
            )
            .await;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_string();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[header_end..buf.len().min(header_end + length)];
    let mut parts = request_line.split_whitespace();
    let (verb, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());

    if verb == "GET" && target == "/messages" {
        let all = Value::Array(messages.lock().unwrap_or_else(|e| e.into_inner()).clone());
        return respond(&mut stream, 200, &all).await;
    }
    let is_send = verb == "POST" && target.starts_with("/bot") && target.ends_with("/sendMessage");
    if !is_send {
        return respond(
            &mut stream,
            404,
            &json!({ "ok": false, "error_code": 404, "description": "Not Found" }),
        )
        .await;
    }
    let Ok(payload) = serde_json::from_slice::<Value>(body) else {
        return respond(
            &mut stream,
            400,
            &json!({ "ok": false, "error_code": 400, "description": "Bad Request: invalid JSON" }),
        )
        .await;
    };
    let (Some(chat_id), Some(text)) = (payload.get("chat_id"), payload.get("text").and_then(Value::as_str)) else {
        let d = "Bad Request: chat_id and text are required";
        return respond(
            &mut stream,
            400,
            &json!({ "ok": false, "error_code": 400, "description": d }),
        )
        .await;
    };
    let record = {
        let mut all = messages.lock().unwrap_or_else(|e| e.into_inner());
        let record = json!({
            "message_id": all.len() + 1,
            "chat_id": chat_id,
            "parse_mode": payload.get("parse_mode"),
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
    let result =
        json!({ "message_id": record["message_id"], "date": record["date"], "chat": { "id": chat_id }, "text": text });
    respond(&mut stream, 200, &json!({ "ok": true, "result": result })).await
}

async fn respond(stream: &mut TcpStream, status: u16, body: &Value) -> std::io::Result<()> {
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        text.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}
