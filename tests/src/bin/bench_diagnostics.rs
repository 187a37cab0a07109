//! `bench-diagnostics [N]`: loads N (default 10,000) decided signals spread over the last 7 days into a fresh
//! namespace of the emulator, then measures the diagnostics report: the DynamoDB requests it makes (kinds and
//! counts, on the wire), the CPU-bound computation (evaluate + JSON) over the gathered rows, and the end-to-end
//! latency of the handler against the emulator. Prints numbers; asserts nothing. Run by scripts/bench_diagnostics.sh.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use futures::stream::{self, StreamExt};
use lambda_http::{Body, RequestExt};
use rust_decimal::Decimal;
use shared::adapters::dynamodb::DynamoStore;
use shared::fakes;
use shared::flow::orchestration::decision_for;
use shared::ids::{Side, Symbol};
use shared::order::{IntentStatus, OrderIntent};
use shared::ports::{SignalStore, Stores};
use shared::report::invariants::{self, ReportQuery};
use shared::signal::SignalRecord;
use tests::opcount::OpCounter;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n: i64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let aws = tests::aws().await;
    let prefix = format!("bench{}-", std::process::id());
    let p = tests::provision::all(&aws, &prefix, None).await?;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let store = DynamoStore::new(ddb.clone(), p.tables.clone());
    let now = Utc::now();
    let sym = Symbol::parse("ETH_BTC")?;
    let span_ms = Duration::days(7).num_milliseconds() - 600_000;

    eprintln!("loading {n} signals + intents over 7 days into the emulator…");
    let started = Instant::now();
    let results: Vec<Result<(), BoxError>> = stream::iter(0..n)
        .map(|i| {
            let (store, sym, ddb, p) = (&store, &sym, &ddb, &p);
            async move {
                let created_at = now - Duration::milliseconds(600_000 + span_ms * i / n);
                let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
                let sent = fakes::sent_signal(
                    sym,
                    side,
                    1_500_000_000_000 + i * 3_600_000,
                    Decimal::new(921, 4),
                    created_at,
                );
                let intent = OrderIntent {
                    order_id: Some(format!("paper-{i}")),
                    lease_until_ms: 0,
                    ..fakes::intent(&sent, IntentStatus::OrderPlaced, created_at, created_at)
                };
                let signal = SignalRecord {
                    indicators: [("rsi".to_string(), 31.5), ("ma50".to_string(), 0.09)]
                        .into_iter()
                        .collect(),
                    candle_open_ms: 0,
                    message: "✅ BUY SIGNAL: ETH_BTC @ 0.0921 BTC - swing-aggressive | RSI<45".into(),
                    decision: Some(decision_for(&intent, created_at)),
                    ..sent
                };
                store.put_new(&signal).await?;
                // A plain put, not the claim: the emulator copies whole tables for every transaction, which would
                // make loading quadratic; the report, not the claim, is what this measures.
                ddb.put_item()
                    .table_name(&p.tables.intents)
                    .set_item(Some(shared::adapters::dynamodb::intent_item(
                        &intent,
                        p.tables.retention_days,
                    )))
                    .send()
                    .await?;
                Ok(())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let load = started.elapsed();
    eprintln!(
        "loaded in {:.1}s ({:.0} writes/s), {failed} failed",
        load.as_secs_f64(),
        (2 * n) as f64 / load.as_secs_f64()
    );

    let counter = OpCounter::default();
    let counted = DynamoStore::new(counter.client(&aws), p.tables.clone());
    let grace = Duration::seconds(120);
    for (label, q) in [
        (
            "hours=168 limit=1000 (API maximum)",
            ReportQuery {
                hours: 168,
                limit: Some(1000),
                side: None,
            },
        ),
        ("hours=168 limit=500 (default)", ReportQuery::default()),
        (
            "hours=24 (sweeper window, no limit)",
            ReportQuery {
                hours: 24,
                limit: None,
                side: None,
            },
        ),
    ] {
        counter.reset();
        let t = Instant::now();
        let rows = invariants::gather(Stores::of(&counted), &q, now).await?;
        let gather = t.elapsed();
        let ops = counter.counts();
        let mut cpu = Vec::new();
        let mut bytes = 0;
        for _ in 0..30 {
            let t = Instant::now();
            let report = invariants::evaluate(&q, &rows, now, grace);
            bytes = serde_json::to_vec(&report)?.len();
            cpu.push(t.elapsed());
        }
        cpu.sort();
        println!(
            "report {label}: {} signals; DynamoDB requests {:?}; gather {:.0} ms; computation (evaluate + JSON, {} KB) min {:.2} ms, median {:.2} ms",
            rows.signals.len(),
            ops,
            gather.as_secs_f64() * 1e3,
            bytes / 1024,
            ms(cpu[0]),
            ms(cpu[cpu.len() / 2]),
        );
    }

    let deps = diagnostics::wiring::Deps::new(&aws, {
        let mut c = diagnostics::config::DiagnosticsConfig::from_source(&shared::config::ProcessEnv)?;
        c.tables = p.tables.clone();
        c.auth_secret_id = None;
        c
    })
    .await?;
    let mut e2e = Vec::new();
    for _ in 0..10 {
        let req = lambda_http::http::Request::builder()
            .method("GET")
            .uri(diagnostics::handler::ROUTE)
            .body(Body::Empty)?
            .with_query_string_parameters(std::collections::HashMap::from([(
                "limit".to_string(),
                "1000".to_string(),
            )]));
        let t = Instant::now();
        let resp = deps.diagnostics().handle(req).await;
        e2e.push(t.elapsed());
        assert_eq!(resp.status(), 200);
    }
    e2e.sort();
    println!(
        "handler end to end against the emulator (hours=168 limit=1000, 10 runs): min {:.0} ms, median {:.0} ms, max {:.0} ms",
        ms(e2e[0]),
        ms(e2e[e2e.len() / 2]),
        ms(e2e[e2e.len() - 1])
    );
    Ok(())
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1e3
}
