//! A local Lambda Runtime API (the `2018-06-01` interface a `provided.al2023` bootstrap talks to): a function's built
//! binary is started with `AWS_LAMBDA_RUNTIME_API` pointing here and runs exactly as in Lambda — it polls
//! `GET /runtime/invocation/next`, answers with `POST …/{id}/response` or `…/{id}/error`, or reports a failed start
//! with `POST /runtime/init/error`. Accepted connections set TCP_NODELAY: without it every small response of the
//! runtime waits ≈40 ms on Nagle's algorithm and delayed ACKs.

use std::collections::HashMap;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::Utc;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::http::{HttpRequest, HttpResponse};

const PREFIX: &str = "/2018-06-01/runtime";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    Response(serde_json::Value),
    /// `errorType`, `errorMessage` as the runtime reported them.
    Error(serde_json::Value),
    /// The function reported a failed start (its init error) instead of polling.
    InitError(serde_json::Value),
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Invocation>>>>;
/// Queued events: (request id, body).
type Events = Arc<Mutex<mpsc::UnboundedReceiver<(String, Vec<u8>)>>>;

pub struct RuntimeApi {
    pub addr: String,
    events: mpsc::UnboundedSender<(String, Vec<u8>)>,
    waiters: Waiters,
    next_id: std::sync::atomic::AtomicU64,
    first_poll: FirstPoll,
}

/// When the function first asked for an event: the end of its init.
type FirstPoll = Arc<std::sync::Mutex<Option<std::time::Instant>>>;

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let (tx, rx) = mpsc::unbounded_channel::<(String, Vec<u8>)>();
        let rx = Arc::new(Mutex::new(rx));
        let waiters: Waiters = Arc::default();
        let first_poll: FirstPoll = Arc::default();
        let (w, f) = (waiters.clone(), first_poll.clone());
        crate::http::serve(listener, move |req| answer(req, rx.clone(), w.clone(), f.clone()));
        Ok(RuntimeApi {
            addr,
            events: tx,
            waiters,
            next_id: std::sync::atomic::AtomicU64::new(1),
            first_poll,
        })
    }

    /// When the function's first `GET /next` arrived (None before it did).
    pub fn first_poll(&self) -> Option<std::time::Instant> {
        self.first_poll.lock().ok().and_then(|f| *f)
    }

    /// Queues one event and waits for the function's answer (or its init error).
    pub async fn invoke(&self, event: &[u8], timeout: Duration) -> Result<Invocation, String> {
        let id = format!(
            "req-{:04}",
            self.next_id.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().await.insert(id.clone(), tx);
        self.events
            .send((id.clone(), event.to_vec()))
            .map_err(|_| "the runtime API stopped".to_string())?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(format!("invocation {id} was dropped")),
            Err(_) => Err(format!("no answer to {id} within {timeout:?}")),
        }
    }
}

async fn answer(req: HttpRequest, events: Events, waiters: Waiters, first_poll: FirstPoll) -> HttpResponse {
    let path = req.path().strip_prefix(PREFIX).unwrap_or_default().to_string();
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
    match (req.method.as_str(), path.as_str()) {
        ("GET", "/invocation/next") => {
            if let Ok(mut f) = first_poll.lock() {
                f.get_or_insert_with(std::time::Instant::now);
            }
            // A poll for the next event waits as long as the test does.
            let next = events.lock().await.recv().await;
            let Some((id, event)) = next else {
                return HttpResponse::new(500, r#"{"error":"the runtime API stopped"}"#);
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                + 30_000;
            let headers = [
                ("Lambda-Runtime-Aws-Request-Id", id.clone()),
                ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:eu-west-1:123456789012:function:local".to_string(),
                ),
                ("Lambda-Runtime-Trace-Id", format!("Root=1-00000000-{id};Sampled=0")),
            ]
            .map(|(k, v)| (k.to_string(), v));
            HttpResponse::new(200, event).with_headers(headers)
        }
        ("POST", "/init/error") => {
            for (_, w) in waiters.lock().await.drain() {
                let _ = w.send(Invocation::InitError(body.clone()));
            }
            HttpResponse::new(202, "{}")
        }
        ("POST", p) => {
            let mut parts = p.trim_start_matches("/invocation/").splitn(2, '/');
            let (id, kind) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            let outcome = match kind {
                "response" => Invocation::Response(body),
                _ => Invocation::Error(body),
            };
            if let Some(w) = waiters.lock().await.remove(id) {
                let _ = w.send(outcome);
            }
            HttpResponse::new(202, "{}")
        }
        _ => HttpResponse::new(404, "{}"),
    }
}

/// A function's configuration for a provisioned namespace: its tables and queue, everything else as the template
/// sets it (secrets under their default names).
pub fn function_env(p: &crate::provision::Provisioned) -> Vec<(&'static str, String)> {
    let t = &p.tables;
    vec![
        ("SIGNALS_TABLE", t.signals.clone()),
        ("ORDER_INTENTS_TABLE", t.intents.clone()),
        ("ALERTS_TABLE", t.alerts.clone()),
        ("WATCHLIST_TABLE", t.watchlist.clone()),
        ("RISK_TABLE", t.risk.clone()),
        ("SIGNALS_QUEUE_URL", p.queue_url.clone()),
        ("RUST_LOG", "info".into()),
    ]
}

/// A function binary started against a [`RuntimeApi`]; killed when dropped.
pub struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Function {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// The exit status once the process has ended by itself within `limit` (a bootstrap that fails its cold start
    /// exits; Lambda reports that as the init error).
    pub async fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < end {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Function {
    /// Starts `binary` as Lambda would: the runtime API's address and the standard Lambda variables, plus `env`
    /// (the function's own configuration). Its stderr (JSON logs) goes to `log`.
    pub fn start(
        binary: &std::path::Path,
        api: &RuntimeApi,
        name: &str,
        env: &[(&str, String)],
        log: &std::path::Path,
    ) -> std::io::Result<Function> {
        Self::spawn(Command::new(binary), api, name, env, log)
    }

    /// [`Function::start`] for any command (a bootstrap of another language, e.g. a Python runtime client).
    pub fn spawn(
        mut command: Command,
        api: &RuntimeApi,
        name: &str,
        env: &[(&str, String)],
        log: &std::path::Path,
    ) -> std::io::Result<Function> {
        let log = std::fs::File::create(log)?;
        let child = command
            .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("_HANDLER", "bootstrap")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(Function(child))
    }
}

/// Where cargo put this workspace's binaries for the running test's profile: the test binary runs from
/// `<target>/<profile>/deps/`, so `CARGO_TARGET_DIR` is honoured as cargo resolved it.
/// `REPLAY_DIR` set to the shipped candle files: what a function binary built as Lambda builds it (without the
/// `embedded-candles` feature) needs to replay them.
pub fn shipped_candles() -> (&'static str, String) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/candles");
    ("REPLAY_DIR", dir.display().to_string())
}

pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    profile_dir.join(name)
}

/// A fresh ETH_BTC BUY signal for the benches, its row written as the evaluator writes it, and an SQS event
/// carrying it. It asks for no ORDER PLACED message.
pub async fn signal_event(
    store: &shared::adapters::dynamodb::DynamoStore,
    candle: i64,
) -> Result<Vec<u8>, shared::ports::BoxError> {
    use shared::ports::SignalStore;
    let sym = shared::ids::Symbol::parse("ETH_BTC")?;
    let mut s = shared::fakes::sent_signal(
        &sym,
        shared::ids::Side::Buy,
        candle,
        rust_decimal::Decimal::new(921, 4),
        Utc::now(),
    );
    s.notify_order_placed = false;
    store.put_new(&s).await?;
    Ok(sqs_event(&[s.to_message().to_json()]))
}

/// A bench's tables without the global daily notional cap (on by default: 1,000 USD, ten of the benches' 100 USD
/// orders), as an operator raising it would: every signal of a long bench is then placed, never skipped by the cap
/// (a skip is another path, with other requests).
pub async fn without_daily_cap(store: &shared::adapters::dynamodb::DynamoStore) -> Result<(), shared::ports::BoxError> {
    use shared::ports::ControlStore;
    let control = shared::risk::Control {
        limits: shared::risk::RiskLimits::default(),
        ..shared::risk::Control::default()
    };
    if store.replace_control(0, &control).await? {
        Ok(())
    } else {
        Err("the bench's tables have a control row already".into())
    }
}

/// The decisions on the signals created since `since`, by reason code; an error unless every one was placed (a
/// bench that measured skips or failures would say it measured placed orders).
pub async fn all_placed(
    store: &shared::adapters::dynamodb::DynamoStore,
    since: chrono::DateTime<Utc>,
) -> Result<usize, shared::ports::BoxError> {
    use shared::ports::SignalStore;
    let signals = store.created_between(since, Utc::now()).await?;
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for s in &signals {
        let code = s.decision.as_ref().map_or("none".into(), |d| d.reason_code.to_string());
        *codes.entry(code).or_default() += 1;
    }
    match codes.keys().map(String::as_str).collect::<Vec<_>>()[..] {
        ["EXEC_ORDER_PLACED"] => Ok(signals.len()),
        _ => Err(format!("not every bench signal was placed: {codes:?}").into()),
    }
}

/// The Python peer of the orchestrator (bench/peer/) as Lambda's Python runtime starts it: awslambdaric with the
/// handler module, from `dir`, by `python` (the one with the peer's packages).
pub fn python_peer(python: &std::path::Path, dir: &std::path::Path) -> Command {
    let mut c = Command::new(python);
    c.args(["-m", "awslambdaric", "handler.handler"]).current_dir(dir);
    c
}

/// The orchestrator's settings beside the namespace's, for the benches: paper prices, and a Telegram that is nowhere
/// (no alert leaves the machine; their signals ask for none).
pub fn orchestrator_env() -> Vec<(&'static str, String)> {
    vec![
        ("PAPER_USD_PRICES", "BTC=12000".into()),
        ("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9".into()),
    ]
}

/// An SQS event as Lambda's event source mapping hands it to a function: one record per body.
pub fn sqs_event(bodies: &[String]) -> Vec<u8> {
    let mut event = SqsEvent::default();
    for (i, body) in bodies.iter().enumerate() {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m-{i}-{}", body.len()));
        m.receipt_handle = Some("handle".into());
        m.body = Some(body.clone());
        m.md5_of_body = Some(String::new());
        m.event_source = Some("aws:sqs".into());
        m.event_source_arn = Some("arn:aws:sqs:eu-west-1:123456789012:signals".into());
        m.aws_region = Some("eu-west-1".into());
        m.attributes.insert("ApproximateReceiveCount".into(), "1".into());
        m.attributes
            .insert("SentTimestamp".into(), Utc::now().timestamp_millis().to_string());
        m.attributes.insert("SenderId".into(), "bench".into());
        m.attributes.insert(
            "ApproximateFirstReceiveTimestamp".into(),
            Utc::now().timestamp_millis().to_string(),
        );
        event.records.push(m);
    }
    serde_json::to_vec(&event).unwrap_or_default()
}
