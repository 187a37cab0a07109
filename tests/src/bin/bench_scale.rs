//! `bench-scale`: the evaluator and the orchestrator at scale, against stand-ins that keep the exchange's rate limits
//! (docs/PERFORMANCE.md, "Scale"). A bench, not a test: it prints numbers and asserts nothing.
//!
//! * **Evaluator**: one run over 100 / 1,000 / 5,000 symbols (`--quick`: 100 / 1,000) against a local
//!   `public/get-candlestick` that answers after 50 ms and admits at most 100 requests in any second per method (429
//!   over it). The candles are a real hourly window chosen so that every symbol takes two requests (its candles and
//!   the volume gate's 5-minute candles). Floor: requests ÷ 100 per second.
//! * **Burst**: 100 / 1,000 BUY signals decided by three orchestrator "containers" (each its own Crypto.com adapter
//!   and its own create-order budget, 5 messages at a time, as the template's `MaximumConcurrency: 3` and `BatchSize:
//!   5`) against the exchange stand-in answering after 50 ms and admitting 15 create-orders per 100 ms (42901 over
//!   it). Floor: signals ÷ 150 per second.
//!
//! The stores are in memory (no DynamoDB latency): the figures are the exchange's share of the time. Then the cost
//! model (`tests::cost`): the DynamoDB requests counted on the wire (pinned by the `costs` integration test) times
//! list prices.

use std::time::Duration;

use shared::adapters::crypto_com::candles::DEFAULT_BUDGET;
use shared::adapters::crypto_com::ORDER_BUDGET;
use shared::adapters::rate::Budget;
use tests::scale::{burst, Market};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: bench-scale [--quick] [--containers N] [--batch N] [--order-budget 5/100ms]\n\nThe evaluator at 100/1,000/5,000 symbols and bursts of 100/1,000 signals against rate-limited stand-ins; --quick leaves out the 5,000-symbol run; the burst runs N orchestrator containers (default 3, as the template) of that create-order budget each, taking batches of --batch messages (default 5, as the template).");
        return Ok(());
    }
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--quick" => {}
            "--containers" | "--order-budget" | "--batch" if rest.next().is_some() => {}
            other => return Err(format!("unknown or incomplete argument {other:?} (see --help)").into()),
        }
    }
    let quick = args.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let order_budget: Budget = match value("--order-budget") {
        Some(b) => b.parse()?,
        None => ORDER_BUDGET,
    };
    let containers: usize = value("--containers").map_or(Ok(3), |c| c.parse())?;
    let batch: usize = value("--batch").map_or(Ok(5), |c| c.parse())?;
    if !(1..=10).contains(&batch) || containers == 0 {
        return Err("--batch is 1 to 10 (an SQS batch) and --containers at least 1".into());
    }
    let market = Market::start().await?;
    let concurrency = 8;
    println!("| symbols | requests | run (s) | floor (s) | run ÷ floor | HTTP 429 | peak RSS (MB) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut last = None;
    for symbols in if quick {
        vec![100, 1_000]
    } else {
        vec![100, 1_000, 5_000]
    } {
        let r = market.run(symbols, concurrency).await?;
        if r.errors > 0 {
            eprintln!("{symbols} symbols: {} symbols failed (see the log)", r.errors);
        }
        println!(
            "| {symbols} | {} | {:.2} | {:.2} | {:.3} | {} | {:.0} |",
            r.requests,
            r.run_s,
            r.floor_s,
            r.run_s / r.floor_s,
            r.limited,
            peak_rss_mb()
        );
        if symbols == 1_000 {
            last = Some(r);
        }
        // The next run starts with a fresh window, as the next scheduled run does.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }
    println!();
    println!(
        "| signals | decided (s) | floor (s) | decided ÷ floor | create-orders | HTTP 42901 | redelivered | doubles |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut burst_line = None;
    for signals in [100, 1_000] {
        let b = burst(signals, containers, batch, order_budget).await?;
        println!(
            "| {signals} | {:.2} | {:.2} | {:.3} | {} | {} | {} | {} |",
            b.decided_s,
            b.floor_s,
            b.decided_s / b.floor_s,
            b.orders,
            b.limited,
            b.redelivered,
            b.doubles
        );
        if signals == 1_000 {
            burst_line = Some(b);
        }
    }
    println!();
    let (idle, per_1000) = (tests::cost::idle_month(), tests::cost::per_1000_signals());
    println!("| an idle stack's month (USD, list prices, no free tier) | |\n|---|---:|");
    for (what, usd) in &idle {
        println!("| {what} | {usd:.4} |");
    }
    println!("| **total** | **{:.2}** |\n", tests::cost::total(&idle));
    println!("| 1,000 placed paper signals (USD) | |\n|---|---:|");
    for (what, usd) in &per_1000 {
        println!("| {what} | {usd:.5} |");
    }
    println!("| **total** | **{:.4}** |\n", tests::cost::total(&per_1000));
    if let Some(r) = last {
        println!(
            "evaluator symbols=1000 run_s={:.2} floor_s={:.2} http_429={} requests={} budget={} concurrency={concurrency}",
            r.run_s, r.floor_s, r.limited, r.requests, DEFAULT_BUDGET
        );
    }
    if let Some(b) = burst_line {
        println!(
            "burst signals=1000 decided_s={:.2} floor_s={:.2} http_42901={} doubles={} containers={containers} batch={batch} budget={order_budget}",
            b.decided_s, b.floor_s, b.limited, b.doubles
        );
    }
    println!(
        "cost idle_usd_month={:.2} usd_per_1000_signals={:.4} dominant={:?}",
        tests::cost::total(&idle),
        tests::cost::total(&per_1000),
        idle.iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|l| l.0)
            .unwrap_or_default()
    );
    Ok(())
}

/// The process's peak resident memory (VmHWM), in MB; 0 where /proc is not there.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
