//! `pipeline`: the demo's replay driver. Steps a simulated market clock through the replayed candles; at each step
//! it invokes the evaluator handler (as its EventBridge schedule would), then feeds the queue's real SQS batches to
//! the orchestrator handler (as the event source mapping would), and every twentieth of the way the sweeper (its
//! reconciliation reads the placed orders' fills, as its schedule would); at the end it runs the sweeper until every
//! order's fill is final (at most five runs, then a line says what is still open), prints the positions and realized
//! P&L from the recorded fills, and asks the diagnostics handler for the report, printed as the last thing on stdout.
//! Progress goes to stderr.
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
            let mut chain = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                chain.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("pipeline: {chain}");
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
    // The orchestrator and the sweeper on the replay's clock: the paper exchange triggers protective legs on the
    // candles that closed by its market time.
    let shared_clock: std::sync::Arc<dyn shared::ports::Clock> = std::sync::Arc::new(clock.clone());
    let orch_cfg = OrchestratorConfig::from_source(&ProcessEnv)?;
    let orch = orchestrator::wiring::Deps::with_clock(&aws, orch_cfg, shared_clock.clone()).await?;

    let replay = ev
        .market
        .replay()
        .ok_or("the demo replays candles: MARKET_DATA must be replay")?;
    let steps = replay.close_times(timeframe);
    let symbols = replay
        .symbols()
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "replay: {} steps of {} over {symbols} ({} .. {})",
        steps.len(),
        timeframe.as_str(),
        fmt_ms(*steps.first().unwrap_or(&0)),
        fmt_ms(*steps.last().unwrap_or(&0))
    );
    let sweep_deps =
        sweeper::wiring::Deps::with_clock(&aws, SweeperConfig::from_source(&ProcessEnv)?, shared_clock).await?;
    let tally = replay_steps(&ev, &orch, &sweep_deps, &aws, &clock, &steps, started).await?;
    let (sweep, still_open) = sweep_until_final(&sweep_deps).await?;
    let diag_deps = diagnostics::wiring::Deps::new(&aws, DiagnosticsConfig::from_source(&ProcessEnv)?).await?;
    let (status, body) = week_report(&diag_deps).await?;
    let report: serde_json::Value = serde_json::from_str(&body)?;
    let pass = report["pass"].as_bool() == Some(true);
    let placed = report["counts"]["placed"].as_u64().unwrap_or(0);

    println!(
        "Replayed {} candle closes of {symbols} in {:.1}s.",
        steps.len(),
        started.elapsed().as_secs_f64()
    );
    let Tally {
        signals,
        blocked,
        errors,
        decided,
        retried,
        fills_recorded,
    } = tally;
    println!(
        "Signals: {signals} sent, {blocked} held back; orchestrator decided {decided} deliveries ({retried} retried); evaluator errors {errors}; fills recorded by the sweeper {fills_recorded}."
    );
    print_per_symbol(&report);
    print_positions(&report, still_open);
    let counts = &sweep.counts;
    println!(
        "Invariants (sweeper, {}h): missing_intent {}, null_decisions {}, failed_without_telegram {}, non_terminal_intent {}.",
        sweep_deps.config.window_hours, counts.missing_intent, counts.null_decisions, counts.failed_without_telegram, counts.non_terminal_intent
    );
    print_telegram().await;
    println!(
        "Diagnostics: HTTP {status} pass={pass} placed={placed} — GET {}?hours=168&limit=1000:",
        diagnostics::handler::ROUTE
    );
    println!("{body}");
    Ok(status == 200 && pass && placed > 0)
}

/// What the replay counted: the evaluator's runs and the orchestrator's deliveries.
#[derive(Default)]
struct Tally {
    signals: usize,
    blocked: usize,
    errors: usize,
    decided: usize,
    retried: usize,
    /// Fill reports the sweeper's reconciliation recorded during the replay (the orchestrator records most itself).
    fills_recorded: usize,
}

/// At each close time: the evaluator's run (as its schedule would), then the queue drained through the orchestrator
/// (as the event source mapping would) when the run sent signals; the queue drained once more at the end.
async fn replay_steps(
    ev: &evaluator::wiring::Deps<ReplayClock>,
    orch: &orchestrator::wiring::Deps,
    sweep: &sweeper::wiring::Deps,
    aws: &aws_config::SdkConfig,
    clock: &ReplayClock,
    steps: &[i64],
    started: Instant,
) -> Result<Tally, BoxError> {
    let (orchestrator, notifier) = (orch.orchestrator(), orch.notifier());
    let sqs = aws_sdk_sqs::Client::new(aws);
    let queue_url = &ev.config.queue_url;
    let mut t = Tally::default();
    let every = (steps.len() / 20).max(1);
    for (i, step) in steps.iter().enumerate() {
        clock.set_market_ms(*step);
        let s = ev.evaluator().run().await?;
        t.signals += s.signals;
        t.blocked += s.blocked;
        t.errors += s.errors;
        if s.signals > 0 {
            let d = esm::drain(&sqs, queue_url, &orchestrator, notifier).await?;
            t.decided += d.deleted;
            t.retried += d.failed;
        }
        if (i + 1) % every == 0 || i + 1 == steps.len() {
            let (_, swept) = sweep.sweeper().run().await?;
            t.fills_recorded += swept.fills.recorded;
            eprintln!(
                "replay: {:>4}/{} market {}  signals {}  blocked {}  decided {}  retried {}  errors {}  ({:.1}s)",
                i + 1,
                steps.len(),
                fmt_ms(*step),
                t.signals,
                t.blocked,
                t.decided,
                t.retried,
                t.errors,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let tail = esm::drain(&sqs, queue_url, &orchestrator, notifier).await?;
    t.decided += tail.deleted;
    t.retried += tail.failed;
    Ok(t)
}

/// The sweeper until a run finds no placed order without a final fill, at most six runs: the last run's summary and
/// how many orders that run still found open (0: every fill is final).
async fn sweep_until_final(deps: &sweeper::wiring::Deps) -> Result<(sweeper::handler::SweepSummary, usize), BoxError> {
    let mut round = 0;
    loop {
        round += 1;
        let (emf, summary) = deps.sweeper().run().await?;
        eprintln!("sweeper: run {round}: EMF {emf}");
        let open = summary.fills.looked_up;
        if open == 0 || round == 6 {
            return Ok((summary, open));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The positions the report built from the recorded fills, and the realized P&L.
fn print_positions(report: &serde_json::Value, still_open: usize) {
    let positions = report["positions"].as_array().cloned().unwrap_or_default();
    println!("Positions (from the recorded fills; realized P&L fees included):");
    for p in &positions {
        println!(
            "  {:<12} held {} · avg entry {} · realized {} quote ≈ {} USD · fees {} USD",
            p["symbol"].as_str().unwrap_or("?"),
            p["quantity"].as_str().unwrap_or("?"),
            p["average_entry_price"].as_str().unwrap_or("?"),
            p["realized_pnl_quote"].as_str().unwrap_or("?"),
            p["realized_pnl_usd"].as_str().unwrap_or("?"),
            p["fees_usd"].as_str().unwrap_or("?"),
        );
    }
    let realized: rust_decimal::Decimal = positions
        .iter()
        .filter_map(|p| p["realized_pnl_usd"].as_str()?.parse::<rust_decimal::Decimal>().ok())
        .sum();
    println!("  realized P&L, all symbols: ≈ {} USD", realized.round_dp(2));
    if still_open > 0 {
        println!("  {still_open} order(s) still without a final fill after six sweeps (the report lists them).");
    }
}

/// The diagnostics handler's report over the last week (up to 1,000 signals), asked as the API would be: its status
/// and body.
async fn week_report(diag: &diagnostics::wiring::Deps) -> Result<(u16, String), BoxError> {
    let key = diag
        .api_key
        .as_ref()
        .map(|k| k.expose().to_string())
        .unwrap_or_default();
    let request = lambda_http::http::Request::builder()
        .method("GET")
        .uri(diagnostics::handler::ROUTE)
        .header("X-Diagnostics-Key", key)
        .body(Body::Empty)?
        .with_query_string_parameters(std::collections::HashMap::from([
            ("hours".to_string(), "168".to_string()),
            ("limit".to_string(), "1000".to_string()),
        ]));
    let response = diag.diagnostics().handle(request).await;
    Ok((
        response.status().as_u16(),
        String::from_utf8_lossy(response.body().as_ref()).to_string(),
    ))
}

/// The last two messages the local Telegram sink received, or why it could not be asked.
async fn print_telegram() {
    match telegram_messages().await {
        Ok(messages) => {
            let count = |title: &str| {
                messages
                    .iter()
                    .filter(|m| m["text"].as_str().is_some_and(|t| t.contains(title)))
                    .count()
            };
            println!(
                "Telegram (local sink): {} message(s) sent: {} ORDER PLACED, {} ORDER EXECUTED, {} ORDER SKIPPED, {} ORDER FAILED.",
                messages.len(),
                count("ORDER PLACED"),
                count("ORDER EXECUTED"),
                count("ORDER SKIPPED"),
                count("ORDER FAILED")
            );
            println!(
                "Protection: {} SL/TP PLACED, {} TAKE PROFIT HIT, {} STOP LOSS HIT, {} PROTECTION FAILED.",
                count("SL/TP PLACED"),
                count("TAKE PROFIT HIT"),
                count("STOP LOSS HIT"),
                count("PROTECTION FAILED")
            );
            let mut exits = messages.iter().filter(|m| {
                m["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("TAKE PROFIT HIT") || t.contains("STOP LOSS HIT"))
            });
            if let Some(m) = exits.next_back() {
                let text = m["text"].as_str().unwrap_or_default().replace('\n', " | ");
                println!("  last protected exit, #{}: {text}", m["message_id"]);
            }
            for m in messages.iter().rev().take(2) {
                let text = m["text"].as_str().unwrap_or_default().replace('\n', " | ");
                println!("  #{}: {}", m["message_id"], text.chars().take(160).collect::<String>());
            }
        }
        Err(e) => println!("Telegram (local sink): not reachable ({e})"),
    }
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
