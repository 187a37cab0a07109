//! `pipeline`: the demo's replay driver. Steps a simulated market clock through the replayed candles; at each step
//! it invokes the evaluator handler (as its EventBridge schedule would), then feeds the queue's real SQS batches to
//! the orchestrator handler (as the event source mapping would); at the end it runs the sweeper once and asks the
//! diagnostics handler for the report, printed as the last thing on stdout. Progress goes to stderr.
//!
//! Exit status: 0 when the report passes and at least one order was placed, 1 otherwise, 2 on a setup error.

use std::time::Instant;

use diagnostics::config::DiagnosticsConfig;
use evaluator::config::EvaluatorConfig;
use lambda_http::{Body, RequestExt};
use orchestrator::config::OrchestratorConfig;
use shared::adapters::clock::ReplayClock;
use shared::config::ProcessEnv;
use sweeper::config::SweeperConfig;
use tests::esm;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    shared::telemetry::init();
    match run().await {
        Ok(true) => std::process::exit(0),
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("pipeline: {e}");
            std::process::exit(2);
        }
    }
}

async fn run() -> Result<bool, BoxError> {
    let started = Instant::now();
    let aws = tests::aws().await;
    let clock = ReplayClock::default();
    let ev_cfg = EvaluatorConfig::from_source(&ProcessEnv)?;
    let timeframe = ev_cfg.timeframe;
    let ev = evaluator::wiring::Deps::new(&aws, ev_cfg, clock.clone()).await?;
    let orch_deps = orchestrator::wiring::Deps::new(&aws, OrchestratorConfig::from_source(&ProcessEnv)?).await?;
    let orch = orch_deps.orchestrator();
    let alerts = orch_deps.failure_alerts();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue_url = ev.config.queue_url.clone();

    let replay = ev
        .market
        .replay()
        .ok_or("the demo replays candles: MARKET_DATA must be replay")?;
    let steps = replay.close_times(timeframe);
    let symbols: Vec<String> = replay.symbols().iter().map(|s| s.to_string()).collect();
    eprintln!(
        "replay: {} steps of {} over {} ({} .. {})",
        steps.len(),
        timeframe.as_str(),
        symbols.join(", "),
        fmt_ms(*steps.first().unwrap_or(&0)),
        fmt_ms(*steps.last().unwrap_or(&0))
    );
    let (mut signals, mut blocked, mut errors, mut decided, mut retried) = (0, 0, 0, 0, 0);
    let every = (steps.len() / 20).max(1);
    for (i, t) in steps.iter().enumerate() {
        clock.set_market_ms(*t);
        let s = ev.evaluator().run().await?;
        signals += s.signals;
        blocked += s.blocked;
        errors += s.errors;
        if s.signals > 0 {
            let d = esm::drain(&sqs, &queue_url, &orch, &alerts).await?;
            decided += d.deleted;
            retried += d.failed;
        }
        if (i + 1) % every == 0 || i + 1 == steps.len() {
            eprintln!(
                "replay: {:>4}/{} market {}  signals {signals}  blocked {blocked}  decided {decided}  retried {retried}  errors {errors}  ({:.1}s)",
                i + 1,
                steps.len(),
                fmt_ms(*t),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let tail = esm::drain(&sqs, &queue_url, &orch, &alerts).await?;
    decided += tail.deleted;
    retried += tail.failed;

    let sweep_deps = sweeper::wiring::Deps::new(&aws, SweeperConfig::from_source(&ProcessEnv)?).await?;
    let (emf, sweep) = sweep_deps.sweeper().run().await?;
    let counts = &sweep.counts;
    eprintln!("sweeper: EMF {emf}");

    let diag_deps = diagnostics::wiring::Deps::new(&aws, DiagnosticsConfig::from_source(&ProcessEnv)?).await?;
    let request = lambda_http::http::Request::builder()
        .method("GET")
        .uri(diagnostics::handler::ROUTE)
        .header(
            "X-Diagnostics-Key",
            diag_deps
                .api_key
                .as_ref()
                .map(|k| k.expose().to_string())
                .unwrap_or_default(),
        )
        .body(Body::Empty)?
        .with_query_string_parameters(std::collections::HashMap::from([
            ("hours".to_string(), "168".to_string()),
            ("limit".to_string(), "1000".to_string()),
        ]));
    let response = diag_deps.diagnostics().handle(request).await;
    let body = String::from_utf8_lossy(response.body().as_ref()).to_string();
    let report: serde_json::Value = serde_json::from_str(&body)?;
    let pass = report["pass"].as_bool() == Some(true);
    let placed = report["counts"]["placed"].as_u64().unwrap_or(0);

    println!(
        "Replayed {} candle closes of {} in {:.1}s.",
        steps.len(),
        symbols.join(", "),
        started.elapsed().as_secs_f64()
    );
    println!(
        "Signals: {signals} sent, {blocked} held back; orchestrator decided {decided} deliveries ({retried} retried); evaluator errors {errors}."
    );
    print_per_symbol(&report);
    println!(
        "Invariants (sweeper, {}h): missing_intent {}, null_decisions {}, failed_without_telegram {}, non_terminal_intent {}.",
        sweep_deps.config.window_hours, counts.missing_intent, counts.null_decisions, counts.failed_without_telegram, counts.non_terminal_intent
    );
    match telegram_messages().await {
        Ok(messages) => {
            println!("Telegram (local sink): {} message(s) sent.", messages.len());
            for m in messages.iter().rev().take(2) {
                let text = m["text"].as_str().unwrap_or_default().replace('\n', " | ");
                println!("  #{}: {}", m["message_id"], text.chars().take(160).collect::<String>());
            }
        }
        Err(e) => println!("Telegram (local sink): not reachable ({e})"),
    }
    println!(
        "Diagnostics: HTTP {} pass={pass} placed={placed} — GET {}?hours=168&limit=1000:",
        response.status().as_u16(),
        diagnostics::handler::ROUTE
    );
    println!("{body}");
    Ok(response.status() == 200 && pass && placed > 0)
}

/// Signals and decisions per symbol, from the report's signal rows.
fn print_per_symbol(report: &serde_json::Value) {
    let mut per: std::collections::BTreeMap<&str, [usize; 5]> = std::collections::BTreeMap::new();
    for s in report["signals"].as_array().into_iter().flatten() {
        let row = per.entry(s["symbol"].as_str().unwrap_or("?")).or_default();
        row[0] += 1;
        match s["decision_type"].as_str() {
            Some("EXECUTED") => row[1] += 1,
            Some("FAILED") => row[2] += 1,
            Some("SKIPPED") => row[3] += 1,
            _ => row[4] += 1,
        }
    }
    for (symbol, [sent, executed, failed, skipped, undecided]) in per {
        println!(
            "  {symbol:<12} {sent:>3} sent: {executed} executed, {failed} failed, {skipped} skipped, {undecided} undecided"
        );
    }
}

/// What the local Telegram sink received (it answers `GET /messages` at the configured Bot API base URL).
async fn telegram_messages() -> Result<Vec<serde_json::Value>, BoxError> {
    let base = std::env::var("TELEGRAM_API_BASE_URL").unwrap_or_default();
    if !base.starts_with("http://127.0.0.1:") {
        return Err("TELEGRAM_API_BASE_URL is not the local sink".into());
    }
    Ok(tests::http_get(&format!("{base}/messages")).await?.json().await?)
}

fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
