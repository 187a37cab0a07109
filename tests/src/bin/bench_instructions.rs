//! `bench-instructions MODE N`: the CPU work of one unit, for `valgrind --tool=callgrind` (instructions do not drift
//! with machine load). Only `measured` is counted (`--collect-atstart=no --toggle-collect='*measured*'`); setup is
//! not. ./scripts/bench.sh divides the count by N.
//!
//! * `orchestrator N`: N signals through the orchestrator's state machine with in-memory ports (claim, paper order,
//!   finalize), each a fresh signal.
//! * `evaluator N`: N evaluations of 100 symbols × 300 real 5-minute candles (indicators, the volume gate on the
//!   last 11, the preset's rules).
//! * `diagnostics N`: N reports over 10,000 decided signals (evaluate + JSON), the rows already gathered.

use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use shared::fakes::{ManualClock, MemoryStore};
use shared::flow::orchestration::{Orchestrator, OrchestratorSettings};
use shared::ids::{Side, Symbol};
use shared::order::IntentStatus;
use shared::ports::Stores;
use shared::report::invariants::{self, ReportQuery};
use shared::risk::ControlCache;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let units = match mode.as_str() {
        "orchestrator" => orchestrator(&rt, n)?,
        "evaluator" => evaluator(n)?,
        "diagnostics" => rt.block_on(diagnostics(n))?,
        _ => return Err("usage: bench-instructions orchestrator|evaluator|diagnostics N".into()),
    };
    println!("{mode}: {units} units measured");
    Ok(())
}

/// The counted region: whatever `work` does.
#[inline(never)]
fn measured<T>(work: impl FnOnce() -> T) -> T {
    work()
}

fn orchestrator(rt: &tokio::runtime::Runtime, n: usize) -> Result<usize, BoxError> {
    let store = MemoryStore::default();
    let sym = Symbol::parse("ETH_BTC")?;
    let now = Utc::now();
    let mut messages = Vec::new();
    for i in 0..n as i64 {
        let s = shared::fakes::sent_signal(
            &sym,
            Side::Buy,
            1_500_000_000_000 + i * 3_600_000,
            Decimal::new(921, 4),
            now,
        );
        store.insert_signal(s.clone());
        messages.push(s.to_message());
    }
    let prices = [("BTC".to_string(), Decimal::from(12_000))].into_iter().collect();
    let exchange = shared::adapters::paper::PaperExchange::new(shared::money::Usd(Decimal::ONE), prices);
    let clock = ManualClock::new(now, 0);
    let guard = ControlCache::default();
    let orch = Orchestrator {
        stores: Stores::of(&store),
        guard: &guard,
        exchange: &exchange,
        clock: &clock,
        settings: OrchestratorSettings::default(),
    };
    // One delivery first: the container's control row read, as in a warm Lambda.
    rt.block_on(orch.process(&messages[0]))?;
    let decided = measured(|| {
        rt.block_on(async {
            let mut decided = 0;
            for m in &messages[1..] {
                if matches!(
                    orch.process(m).await,
                    Ok(shared::flow::orchestration::Outcome::Decided(..))
                ) {
                    decided += 1;
                }
            }
            decided
        })
    });
    Ok(decided)
}

fn evaluator(n: usize) -> Result<usize, BoxError> {
    let five_min = shared::market::candles::parse_rows(include_str!("../../../data/candles/ETH_BTC-5m.json"))?;
    let preset = shared::market::strategy::preset("swing-aggressive").ok_or("preset")?;
    let windows: Vec<&[shared::market::candles::Candle]> = (0..100).map(|i| &five_min[i * 50..i * 50 + 300]).collect();
    let evaluated = measured(|| {
        let mut evaluated = 0;
        for _ in 0..n {
            evaluated += windows
                .iter()
                .filter(|w| {
                    shared::market::strategy::evaluate_candles(
                        preset,
                        w,
                        &w[w.len() - shared::market::indicators::VOLUME_CANDLES..],
                    )
                    .is_some()
                })
                .count();
        }
        evaluated
    });
    Ok(evaluated / 100)
}

async fn diagnostics(n: usize) -> Result<usize, BoxError> {
    let store = MemoryStore::default();
    let sym = Symbol::parse("ETH_BTC")?;
    let now = Utc::now();
    let span_ms = Duration::days(7).num_milliseconds() - 600_000;
    for i in 0..10_000_i64 {
        let at = now - Duration::milliseconds(600_000 + span_ms * i / 10_000);
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let mut s = shared::fakes::sent_signal(&sym, side, 1_500_000_000_000 + i * 3_600_000, Decimal::new(921, 4), at);
        let mut intent = shared::fakes::intent(&s, IntentStatus::OrderPlaced, at, at);
        intent.order_id = Some(format!("paper-{i}"));
        s.decision = Some(shared::flow::orchestration::decision_for(&intent, at));
        store.insert_signal(s);
        store.insert_intent(intent);
    }
    let q = ReportQuery {
        hours: 168,
        limit: None,
        side: None,
    };
    let rows = invariants::gather(Stores::of(&store), &q, now).await?;
    let grace = Duration::seconds(120);
    let bytes = measured(|| {
        let mut bytes = 0;
        for _ in 0..n {
            let report = invariants::evaluate(&q, &rows, now, grace);
            bytes += serde_json::to_vec(&report).map(|v| v.len()).unwrap_or(0);
        }
        bytes
    });
    eprintln!(
        "diagnostics: {} signals per report, {} KB of JSON",
        rows.signals.len(),
        bytes / n.max(1) / 1024
    );
    Ok(n)
}
