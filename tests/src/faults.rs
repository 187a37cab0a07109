//! A fault-injecting proxy in front of the emulator, for the SDK paths the functions really take. Point an SDK
//! config's endpoint at [`FaultProxy::url`] and a seeded share of its calls go wrong the way AWS goes wrong:
//!
//! * **DynamoDB** (any `DynamoDB_20120810.*` call): answered without reaching the table with
//!   `ProvisionedThroughputExceededException` (400), `ThrottlingException` (400) or `InternalServerError` (500), or
//!   — the nasty one — applied to the table and then answered with a 500, so the SDK retries a write that already
//!   happened (a lost reply).
//! * **SQS `SendMessageBatch`**: each entry fails on its own (reported under `Failed` with `SenderFault: false`, not
//!   sent); the rest are sent.
//!
//! Everything else passes through. The proxy counts what it did per operation and fault, for the test's report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::http::{HttpRequest, HttpResponse};

/// What to inject, as shares of the calls concerned (0.0–1.0).
#[derive(Debug, Clone, Copy)]
pub struct FaultPlan {
    /// Share of DynamoDB calls that fail.
    pub dynamodb: f64,
    /// Among those, the share applied to the table before the 500 (lost replies); the rest never reach it.
    pub lost_reply: f64,
    /// Share of `SendMessageBatch` entries that fail.
    pub sqs_entries: f64,
    pub seed: u64,
}

#[derive(Default)]
struct State {
    counts: Mutex<BTreeMap<String, u64>>,
    rng: AtomicU64,
    enabled: AtomicBool,
}

impl State {
    fn count(&self, what: String) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(what).or_default() += 1;
        }
    }

    /// A uniform draw in [0, 1) from a shared SplitMix64 stream (seeded; the order of draws follows the order of
    /// the calls, so a concurrent run is reproducible in its rates, not call by call).
    fn draw(&self) -> f64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The running proxy; stops when dropped.
pub struct FaultProxy {
    pub url: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (the emulator's URL).
    pub async fn start(upstream: &str, plan: FaultPlan) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(State {
            rng: AtomicU64::new(plan.seed),
            enabled: AtomicBool::new(true),
            ..State::default()
        });
        let upstream = upstream.trim_end_matches('/').to_string();
        let http = shared::adapters::http::builder()
            .and_then(|b| Ok(b.build()?))
            .map_err(std::io::Error::other)?;
        let shared = state.clone();
        let task = crate::http::serve(listener, move |req| {
            let (state, http, upstream) = (shared.clone(), http.clone(), upstream.clone());
            async move { answer(&req, &state, &http, &upstream, plan).await }
        });
        Ok(FaultProxy { url, state, task })
    }

    /// Turns injection on or off (off: a plain pass-through, for "the dependency is healthy again").
    pub fn set_enabled(&self, on: bool) {
        self.state.enabled.store(on, Ordering::SeqCst);
    }

    /// What went through and what was injected, e.g. `dynamodb.PutItem` → 812, `fault.dynamodb.lost_reply` → 9.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.state.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The sum of the counts whose name starts with `prefix`.
    pub fn total(&self, prefix: &str) -> u64 {
        self.counts()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }
}

enum Fault {
    Throughput,
    Throttling,
    ServerError,
    LostReply,
}

async fn answer(
    req: &HttpRequest,
    state: &State,
    http: &reqwest::Client,
    upstream: &str,
    plan: FaultPlan,
) -> HttpResponse {
    let target = req.header("x-amz-target").unwrap_or_default().to_string();
    let on = state.enabled.load(Ordering::SeqCst);
    if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
        state.count(format!("dynamodb.{op}"));
        let fault = (on && state.draw() < plan.dynamodb).then(|| {
            if state.draw() < plan.lost_reply {
                Fault::LostReply
            } else {
                match (state.draw() * 3.0) as u8 {
                    0 => Fault::Throughput,
                    1 => Fault::Throttling,
                    _ => Fault::ServerError,
                }
            }
        });
        let (status, kind, message, applied) = match fault {
            None => return pass_through(http, upstream, req).await,
            Some(Fault::Throughput) => (
                400,
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "injected: the level of configured provisioned throughput for the table was exceeded",
                false,
            ),
            Some(Fault::Throttling) => (
                400,
                "com.amazon.coral.availability#ThrottlingException",
                "injected: rate of requests exceeds the allowed throughput",
                false,
            ),
            Some(Fault::ServerError) => (
                500,
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "injected: internal server error",
                false,
            ),
            Some(Fault::LostReply) => {
                // Applied, then the answer is lost: the caller sees a 500 for a write that happened.
                let _ = forward(http, upstream, req, req.body.clone()).await;
                (
                    500,
                    "com.amazonaws.dynamodb.v20120810#InternalServerError",
                    "injected: the reply was lost after the request was applied",
                    true,
                )
            }
        };
        let name = if applied {
            "LostReply"
        } else {
            kind.rsplit('#').next().unwrap_or(kind)
        };
        state.count(format!("fault.dynamodb.{name}"));
        let body = json!({ "__type": kind, "message": message }).to_string();
        return HttpResponse::new(status, body);
    }
    if target == "AmazonSQS.SendMessageBatch" && on {
        state.count("sqs.SendMessageBatch".into());
        return send_batch_with_failures(state, http, upstream, req, plan).await;
    }
    if let Some(op) = target.strip_prefix("AmazonSQS.") {
        state.count(format!("sqs.{op}"));
    }
    pass_through(http, upstream, req).await
}

async fn send_batch_with_failures(
    state: &State,
    http: &reqwest::Client,
    upstream: &str,
    req: &HttpRequest,
    plan: FaultPlan,
) -> HttpResponse {
    let Ok(mut body) = serde_json::from_slice::<Value>(&req.body) else {
        return pass_through(http, upstream, req).await;
    };
    let entries = body["Entries"].as_array().cloned().unwrap_or_default();
    let (failed, kept): (Vec<Value>, Vec<Value>) = entries.into_iter().partition(|_| state.draw() < plan.sqs_entries);
    let failures: Vec<Value> = failed
        .iter()
        .map(|e| {
            state.count("fault.sqs.SendMessageBatch.entry".into());
            json!({ "Id": e["Id"], "SenderFault": false, "Code": "InternalError", "Message": "injected: entry not sent" })
        })
        .collect();
    let mut answer = if kept.is_empty() {
        json!({ "Successful": [] })
    } else {
        body["Entries"] = Value::Array(kept);
        match forward(http, upstream, req, body.to_string().into_bytes()).await {
            Ok((200, _, bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({ "Successful": [] })),
            Ok((status, headers, bytes)) => return HttpResponse::new(status, bytes).with_headers(headers),
            Err(e) => return HttpResponse::new(502, e.to_string()),
        }
    };
    let mut all = answer["Failed"].as_array().cloned().unwrap_or_default();
    all.extend(failures);
    if !all.is_empty() {
        answer["Failed"] = Value::Array(all);
    }
    HttpResponse::new(200, answer.to_string())
}

async fn pass_through(http: &reqwest::Client, upstream: &str, req: &HttpRequest) -> HttpResponse {
    match forward(http, upstream, req, req.body.clone()).await {
        Ok((status, headers, bytes)) => HttpResponse::new(status, bytes).with_headers(headers),
        Err(e) => HttpResponse::new(502, e.to_string()),
    }
}

type Forwarded = (u16, Vec<(String, String)>, Vec<u8>);

/// Sends the request on to the emulator; returns its status, the headers worth keeping and the body.
async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    req: &HttpRequest,
    body: Vec<u8>,
) -> Result<Forwarded, reqwest::Error> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut out = http.request(method, format!("{upstream}{}", req.target));
    for (k, v) in &req.headers {
        if !matches!(
            k.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            out = out.header(k, v);
        }
    }
    let resp = out.body(body).send().await?;
    let status = resp.status().as_u16();
    // The body is rewritten for batches, so no checksum header is passed on (the SDK checks `x-amz-crc32` when set).
    let headers = resp
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-amzn-request") || k.as_str() == "x-amzn-requestid")
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let bytes = resp.bytes().await?.to_vec();
    Ok((status, headers, bytes))
}
