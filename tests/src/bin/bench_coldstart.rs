//! `bench-coldstart RUNS BIN_DIR PEER_PYTHON PEER_DIR [VARIANT]`: cold starts, memory and latency of each function's release
//! binary, started the way Lambda starts it (a local Runtime API, the emulator as AWS), beside a Python peer of the
//! orchestrator (boto3 and Powertools' batch processor under awslambdaric, bench/peer/) making the same decision with
//! the same DynamoDB requests — subjects interleaved run by run, so machine load hits all alike. Then DynamoDB requests per signal, counted on the wire, and throughput.
//! VARIANT, an orchestrator binary built otherwise (another profile), joins the interleaved runs as a subject of
//! its own. Run by ./scripts/bench.sh, which builds and provisions; prints one table. Not a test.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use shared::ids::{Side, Symbol};
use shared::ports::SignalStore;
use tests::faults::{FaultPlan, FaultProxy};
use tests::measure::{cpu_ns, median, ms, stats, vm_hwm_kb};
use tests::runtime_api::{
    all_placed, function_env, orchestrator_env, python_peer, shipped_candles, signal_event, sqs_event,
    without_daily_cap, Function, Invocation, RuntimeApi,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const WARM_INVOCATIONS: usize = 19;
const WAIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq)]
enum Event {
    /// One SQS record of a fresh signal (claimed, placed on the paper exchange, decided).
    Signal,
    File(&'static str),
}

struct Subject {
    name: &'static str,
    command: fn(&Args) -> Command,
    extra_env: Vec<(&'static str, String)>,
    event: Event,
}

struct Args {
    runs: usize,
    bin_dir: PathBuf,
    python: PathBuf,
    peer_dir: PathBuf,
    variant: Option<PathBuf>,
}

#[derive(Default)]
struct Samples {
    init_ms: Vec<f64>,
    cold_ms: Vec<f64>,
    cpu_ms: Vec<f64>,
    rss1_mb: Vec<f64>,
    rss20_mb: Vec<f64>,
    warm_ms: Vec<f64>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench-coldstart: {e}");
        std::process::exit(2);
    }
}

fn binary(a: &Args, name: &str) -> Command {
    Command::new(a.bin_dir.join(name))
}

async fn run() -> Result<(), BoxError> {
    let mut argv = std::env::args().skip(1);
    let args = Args {
        runs: argv.next().and_then(|r| r.parse().ok()).unwrap_or(20),
        bin_dir: argv.next().ok_or("BIN_DIR missing")?.into(),
        python: argv.next().ok_or("PEER_PYTHON missing")?.into(),
        peer_dir: argv.next().ok_or("PEER_DIR missing")?.into(),
        variant: argv.next().map(PathBuf::from),
    };
    let env = tests::TestEnv::new("bench").await;
    let no_telegram = ("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9".to_string());
    let mut subjects = vec![
        Subject {
            name: "orchestrator",
            command: |a| binary(a, "orchestrator"),
            extra_env: orchestrator_env(),
            event: Event::Signal,
        },
        Subject {
            name: "python peer",
            command: |a| python_peer(&a.python, &a.peer_dir),
            extra_env: orchestrator_env(),
            event: Event::Signal,
        },
        Subject {
            name: "diagnostics",
            command: |a| binary(a, "diagnostics"),
            extra_env: vec![],
            event: Event::File("diagnostics-request.json"),
        },
        Subject {
            name: "sweeper",
            command: |a| binary(a, "sweeper"),
            extra_env: vec![no_telegram.clone()],
            event: Event::File("sweeper-schedule.json"),
        },
        Subject {
            name: "evaluator",
            command: |a| binary(a, "evaluator"),
            // The Lambda build carries no candles: the bench's evaluator reads the shipped files, as a deployed one
            // reading a folder would (an empty watchlist reads none of them).
            extra_env: vec![("MARKET_DATA", "replay".into()), shipped_candles(), no_telegram.clone()],
            event: Event::File("evaluator-schedule.json"),
        },
        Subject {
            name: "authorizer",
            command: |a| binary(a, "authorizer"),
            extra_env: vec![],
            event: Event::File("authorizer-request.json"),
        },
        Subject {
            name: "telegram-webhook (halt command)",
            command: |a| binary(a, "telegram-webhook"),
            extra_env: vec![no_telegram.clone()],
            event: Event::File("telegram-webhook-halt.json"),
        },
    ];
    if args.variant.is_some() {
        subjects.insert(
            1,
            Subject {
                name: "orchestrator (variant)",
                command: |a| Command::new(a.variant.clone().unwrap_or_default()),
                extra_env: orchestrator_env(),
                event: Event::Signal,
            },
        );
    }
    // Each subject its own tables: rows one subject writes never slow another's reads (the emulator is no DynamoDB).
    // Every signal is placed (no daily cap: a skip is another path), which is checked once the runs are done.
    let mut spaces = Vec::new();
    for i in 0..subjects.len() {
        let space = tests::TestEnv::new(&format!("bench{i}")).await;
        without_daily_cap(&space.store()).await?;
        spaces.push(space);
    }
    let since = Utc::now();
    let store = env.store();
    without_daily_cap(&store).await?;
    let mut samples: Vec<Samples> = subjects.iter().map(|_| Samples::default()).collect();
    let mut candle = 1_600_000_000_000_i64;
    for run in 0..args.runs {
        eprintln!("cold starts: run {} of {}", run + 1, args.runs);
        for ((s, out), space) in subjects.iter().zip(samples.iter_mut()).zip(&spaces) {
            let own = space.store();
            let mut events = Vec::new();
            for _ in 0..=WARM_INVOCATIONS {
                events.push(match s.event {
                    Event::Signal => {
                        candle += 3_600_000;
                        signal_event(&own, candle).await?
                    }
                    Event::File(f) => std::fs::read(events_dir().join(f))?,
                });
            }
            measure(&args, space, s, &events, out).await?;
        }
    }
    for (s, space) in subjects.iter().zip(&spaces).filter(|(s, _)| s.event == Event::Signal) {
        let placed = all_placed(&space.store(), since)
            .await
            .map_err(|e| format!("{}: {e}", s.name))?;
        eprintln!("{}: every one of its {placed} signals was placed", s.name);
    }

    println!();
    println!(
        "Cold start, memory and latency: {} cold starts per subject, {} warm invocations each (min / median / max)",
        args.runs, WARM_INVOCATIONS
    );
    println!(
        "| subject | init: spawn → first GET /next (ms) | cold start: spawn → first response (ms) | CPU of the cold start (ms) | peak RSS after 1 (MB) | after 20 (MB) | warm invocation (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (s, x) in subjects.iter().zip(&samples) {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.name,
            stats(&x.init_ms, 1),
            stats(&x.cold_ms, 1),
            stats(&x.cpu_ms, 1),
            stats(&x.rss1_mb, 1),
            stats(&x.rss20_mb, 1),
            stats(&x.warm_ms, 2)
        );
    }
    let peer = subjects.iter().position(|s| s.name == "python peer").ok_or("no peer")?;
    let (rust, peer) = (&samples[0], &samples[peer]);
    println!();
    println!(
        "Orchestrator vs Python peer (medians): cold start {:.1}× faster, cold-start CPU {:.1}× less, init {:.1}× faster, peak RSS after 20 {:.1}× smaller, warm {:.1}× faster",
        median(&peer.cold_ms) / median(&rust.cold_ms),
        median(&peer.cpu_ms) / median(&rust.cpu_ms),
        median(&peer.init_ms) / median(&rust.init_ms),
        median(&peer.rss20_mb) / median(&rust.rss20_mb),
        median(&peer.warm_ms) / median(&rust.warm_ms),
    );
    requests_per_signal(&args, &env, &store, &mut candle).await?;
    throughput(&args, &env, &store, &mut candle).await?;
    Ok(())
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// One cold start and the warm invocations after it.
async fn measure(
    args: &Args,
    env: &tests::TestEnv,
    s: &Subject,
    events: &[Vec<u8>],
    out: &mut Samples,
) -> Result<(), BoxError> {
    let api = RuntimeApi::start().await?;
    let mut vars = function_env(&env.p);
    vars.extend(s.extra_env.iter().cloned());
    let log = std::env::temp_dir().join(format!("bench-{}.log", s.name.replace(' ', "-")));
    let started = Instant::now();
    let f = Function::spawn((s.command)(args), &api, s.name, &vars, &log)?;
    expect_answer(s.name, api.invoke(&events[0], WAIT).await?)?;
    let cold = started.elapsed();
    let init = api.first_poll().map(|t| t - started).ok_or("no GET /next recorded")?;
    out.cold_ms.push(ms(cold));
    out.init_ms.push(ms(init));
    out.cpu_ms.push(cpu_ns(f.pid()) as f64 / 1e6);
    out.rss1_mb.push(vm_hwm_kb(f.pid()) as f64 / 1024.0);
    for e in &events[1..] {
        let t = Instant::now();
        expect_answer(s.name, api.invoke(e, WAIT).await?)?;
        out.warm_ms.push(ms(t.elapsed()));
    }
    out.rss20_mb.push(vm_hwm_kb(f.pid()) as f64 / 1024.0);
    Ok(())
}

fn expect_answer(name: &str, outcome: Invocation) -> Result<(), BoxError> {
    match outcome {
        Invocation::Response(_) => Ok(()),
        other => Err(format!("{name}: {other:?}").into()),
    }
}

/// DynamoDB requests per signal, counted on the wire by a pass-through proxy, for each path of the orchestrator.
async fn requests_per_signal(
    args: &Args,
    env: &tests::TestEnv,
    store: &shared::adapters::dynamodb::DynamoStore,
    candle: &mut i64,
) -> Result<(), BoxError> {
    let upstream = std::env::var("AWS_ENDPOINT_URL")?;
    let plan = FaultPlan {
        dynamodb: 0.0,
        lost_reply: 0.0,
        sqs_entries: 0.0,
        seed: 0,
    };
    let proxy = FaultProxy::start(&upstream, plan).await?;
    let (api, _f) = orchestrator(args, env, Some(&proxy.url), "requests").await?;
    let sym = Symbol::parse("ETH_BTC")?;
    let mut fresh = |at: chrono::DateTime<Utc>, amount: i64| {
        *candle += 3_600_000;
        let mut s = shared::fakes::sent_signal(&sym, Side::Buy, *candle, Decimal::new(921, 4), at);
        s.notify_order_placed = false;
        s.trade_amount_usd = Decimal::new(amount, 2);
        s
    };
    let placed = fresh(Utc::now(), 10_000);
    let stale = fresh(Utc::now() - chrono::Duration::minutes(20), 10_000);
    let too_small = fresh(Utc::now(), 50);
    for s in [&placed, &stale, &too_small] {
        store.put_new(s).await?;
    }
    // The first invocation also reads the control row into the container's cache (once per container).
    let warmup = fresh(Utc::now(), 10_000);
    store.put_new(&warmup).await?;
    expect_answer(
        "orchestrator",
        api.invoke(&sqs_event(&[warmup.to_message().to_json()]), WAIT).await?,
    )?;
    println!();
    println!("DynamoDB requests per signal (orchestrator binary, counted on the wire, warm container):");
    println!("| path | requests | by operation |");
    println!("|---|---|---|");
    let paths = [
        ("placed (paper, EXECUTED)", &placed),
        ("redelivery of a decided signal", &placed),
        ("stale signal (SKIPPED / STALE_SIGNAL)", &stale),
        (
            "below the minimum (FAILED / MIN_NOTIONAL_NOT_MET + ORDER FAILED outbox row)",
            &too_small,
        ),
    ];
    for (label, s) in paths {
        let before = proxy.counts();
        expect_answer(
            "orchestrator",
            api.invoke(&sqs_event(&[s.to_message().to_json()]), WAIT).await?,
        )?;
        let after = proxy.counts();
        let ops: Vec<String> = after
            .iter()
            .filter(|(k, _)| k.starts_with("dynamodb."))
            .filter_map(|(k, v)| {
                let d = v - before.get(k).copied().unwrap_or(0);
                (d > 0).then(|| format!("{} {d}", k.trim_start_matches("dynamodb.")))
            })
            .collect();
        let total: u64 = after
            .iter()
            .filter(|(k, _)| k.starts_with("dynamodb."))
            .map(|(_, v)| v)
            .sum::<u64>()
            - before
                .iter()
                .filter(|(k, _)| k.starts_with("dynamodb."))
                .map(|(_, v)| v)
                .sum::<u64>();
        println!("| {label} | {total} | {} |", ops.join(", "));
    }
    Ok(())
}

/// An orchestrator container of its own (AWS through `endpoint` when given), waiting for events.
async fn orchestrator(
    args: &Args,
    env: &tests::TestEnv,
    endpoint: Option<&str>,
    label: &str,
) -> Result<(RuntimeApi, Function), BoxError> {
    let api = RuntimeApi::start().await?;
    let mut vars = function_env(&env.p);
    vars.extend(orchestrator_env());
    if let Some(url) = endpoint {
        vars.push(("AWS_ENDPOINT_URL", url.to_string()));
    }
    let log = std::env::temp_dir().join(format!("bench-{label}.log"));
    let f = Function::spawn(binary(args, "orchestrator"), &api, "orchestrator", &vars, &log)?;
    Ok((api, f))
}

/// Signals per second through one warm orchestrator container taking batches of 10, beside the emulator's own
/// ceiling for raw conditional puts from one sequential client.
async fn throughput(
    args: &Args,
    env: &tests::TestEnv,
    store: &shared::adapters::dynamodb::DynamoStore,
    candle: &mut i64,
) -> Result<(), BoxError> {
    const BATCHES: usize = 30;
    let (api, _f) = orchestrator(args, env, None, "throughput").await?;
    let sym = Symbol::parse("ETH_BTC")?;
    let mut batches = Vec::new();
    for _ in 0..=BATCHES {
        let mut bodies = Vec::new();
        for _ in 0..10 {
            *candle += 3_600_000;
            let mut s = shared::fakes::sent_signal(&sym, Side::Buy, *candle, Decimal::new(921, 4), Utc::now());
            s.notify_order_placed = false;
            store.put_new(&s).await?;
            bodies.push(s.to_message().to_json());
        }
        batches.push(sqs_event(&bodies));
    }
    expect_answer("orchestrator", api.invoke(&batches[0], WAIT).await?)?;
    let t = Instant::now();
    for b in &batches[1..] {
        expect_answer("orchestrator", api.invoke(b, WAIT).await?)?;
    }
    let orch = (BATCHES * 10) as f64 / t.elapsed().as_secs_f64();

    let ddb = aws_sdk_dynamodb::Client::new(&env.aws);
    let table = format!("{}ceiling", env.prefix);
    create_raw_table(&env.aws, &table).await?;
    let n = 300;
    let t = Instant::now();
    for i in 0..n {
        ddb.put_item()
            .table_name(&table)
            .item(
                "id",
                aws_sdk_dynamodb::types::AttributeValue::S(format!(
                    "raw-{i}-{}",
                    Utc::now().timestamp_nanos_opt().unwrap_or(0)
                )),
            )
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await?;
    }
    let raw = n as f64 / t.elapsed().as_secs_f64();
    // The claim's shape without any of our code: one TransactWriteItems of 5 conditional puts per signal.
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    let t = Instant::now();
    for i in 0..n / 3 {
        let items = (0..5)
            .map(|k| {
                let put = Put::builder()
                    .table_name(&table)
                    .item(
                        "id",
                        AttributeValue::S(format!("tx-{i}-{k}-{}", Utc::now().timestamp_nanos_opt().unwrap_or(0))),
                    )
                    .condition_expression("attribute_not_exists(id)")
                    .build()?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect::<Result<Vec<_>, BoxError>>()?;
        ddb.transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await?;
    }
    let tx = (n / 3) as f64 / t.elapsed().as_secs_f64();
    println!();
    println!(
        "Throughput: {orch:.0} signals/s through one warm orchestrator container ({BATCHES} batches of 10, paper); the emulator's own ceiling from one sequential client: {raw:.0} conditional PutItem/s, {tx:.0} TransactWriteItems/s of 5 conditional puts (the claim's shape)"
    );
    Ok(())
}

/// A table of string ids alone, for the emulator's own ceiling (no code of ours between the client and it).
async fn create_raw_table(aws: &aws_config::SdkConfig, name: &str) -> Result<(), BoxError> {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    aws_sdk_dynamodb::Client::new(aws)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}
