//! `bench-coldstart-tls [--runs N] [--bin-dir DIR]`: the orchestrator's cold start — spawn → first answered SQS event
//! — with its endpoints plain or behind TLS, at the CPU share of a 128 MB, a 512 MB and a whole-CPU Lambda, with and
//! without the warm-up at init (`WARM_UP_AT_INIT`). docs/PERFORMANCE.md, "Cold start over TLS". A bench, not a test.
//!
//! * **TLS**: every AWS endpoint behind a local TLS-terminating proxy (`tests::tls`) in front of the emulator, with
//!   a fresh test CA the function trusts through `TEST_CA_FILE` (an RSA chain shaped like an AWS endpoint's).
//! * **CPU share**: Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB; 128 MB is 7.2 % of
//!   one CPU, 512 MB 28.9 %. Each function process runs in a cgroup (v1 `cpu` controller) with that CFS quota over
//!   the default 100 ms period, init included. Where no cgroup can be made, the shares are modelled from the
//!   whole-CPU runs (wall time + CPU time × (1 ÷ share − 1)) and the table says so.
//! * Subjects interleaved run by run, so machine load hits all alike. Needs the emulator (`AWS_ENDPOINT_URL`) and the
//!   release orchestrator (`--bin-dir`, default `target/release`).
//!
//! Ends with `cold_start tls=on cpu_share_mb=128 first_response_ms=…` (the median, warm-up on).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::measure::{cpu_ns, median, ms, stats};
use tests::runtime_api::{
    all_placed, function_env, orchestrator_env, python_peer, signal_event, without_daily_cap, Function, Invocation,
    RuntimeApi,
};
use tests::tls::{Keys, TestCa, TlsProxy};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const WAIT: Duration = Duration::from_secs(60);
const CGROUP_CPU: &str = "/sys/fs/cgroup/cpu";
const PERIOD_US: u64 = 100_000;
/// Memory sizes measured (None: the whole CPU) and the share of one CPU each gets.
const SHARES: [Option<u32>; 3] = [None, Some(512), Some(128)];

fn share(mb: u32) -> f64 {
    f64::from(mb) / 1_769.0
}

#[derive(Clone, Copy)]
struct Variant {
    tls: bool,
    memory_mb: Option<u32>,
    warm_up: bool,
}

impl Variant {
    fn label(&self) -> String {
        format!(
            "| {} | {} | {} |",
            if self.tls { "TLS" } else { "plain" },
            self.memory_mb.map_or("whole CPU".to_string(), |mb| format!(
                "{mb} MB ({:.1} %)",
                share(mb) * 100.0
            )),
            if self.warm_up { "on" } else { "off" }
        )
    }
}

#[derive(Default)]
struct Samples {
    init_ms: Vec<f64>,
    first_event_ms: Vec<f64>,
    cold_ms: Vec<f64>,
    cpu_ms: Vec<f64>,
    handshakes: Vec<f64>,
    /// The next signal's invocation, warm, and its requests through the proxy (TLS only).
    warm_ms: Vec<f64>,
    warm_requests: Vec<f64>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench-coldstart-tls: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: bench-coldstart-tls [--runs N] [--bin-dir DIR] [--peer-python PATH --peer-dir DIR]\n\nThe release orchestrator's cold start (spawn → first answered SQS event), plain and behind TLS, at the CPU share of 128 MB, 512 MB and a whole CPU, with and without WARM_UP_AT_INIT; then its warm path behind TLS beside the Python peer's. Needs the emulator at AWS_ENDPOINT_URL. --runs: cold starts per variant, and warm containers per subject (default 10); --bin-dir: where the release orchestrator is (default target/release); --peer-python, --peer-dir: the Python with the peer's packages and bench/peer/ (without them the peer is not measured).");
        return Ok(());
    }
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let runs: usize = value("--runs").map_or(Ok(10), |r| r.parse())?;
    let bin_dir = value("--bin-dir").map_or_else(default_bin_dir, PathBuf::from);
    let orchestrator = bin_dir.join("orchestrator");
    if !orchestrator.is_file() {
        return Err(format!(
            "{} not found: build it with cargo build --release -p orchestrator",
            orchestrator.display()
        )
        .into());
    }
    let plain = std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL (the emulator) is not set")?;
    let ca = TestCa::generate(Keys::Rsa)?;
    let ca_file = ca.write_root("bench-tls-ca")?;
    let proxy = TlsProxy::start(&ca, &plain).await?;
    let cgroups = Cgroups::make();
    let mut variants = Vec::new();
    for tls in [false, true] {
        for memory_mb in SHARES {
            for warm_up in [false, true] {
                variants.push(Variant {
                    tls,
                    memory_mb,
                    warm_up,
                });
            }
        }
    }
    let mut samples: Vec<Samples> = variants.iter().map(|_| Samples::default()).collect();
    let mut candle = 1_700_000_000_000_i64;
    let mut placed = 0;
    for run in 0..runs {
        eprintln!("cold starts over TLS: run {} of {runs}", run + 1);
        let space = Space::new(&format!("tls{run}")).await?;
        let (env, store) = (&space.env, &space.env.store());
        for (v, out) in variants.iter().zip(samples.iter_mut()) {
            let cgroup = match (&cgroups, v.memory_mb) {
                (Some(c), Some(mb)) => Some(c.path(mb)),
                (Some(c), None) => Some(c.whole()),
                (None, Some(_)) => continue, // modelled below from the whole-CPU runs
                (None, None) => None,
            };
            candle += 3_600_000;
            let event = signal_event(store, candle).await?;
            candle += 3_600_000;
            let next = signal_event(store, candle).await?;
            let mut vars = function_env(&env.p);
            vars.extend(orchestrator_env());
            vars.push(("WARM_UP_AT_INIT", v.warm_up.to_string()));
            if v.tls {
                vars.push(("AWS_ENDPOINT_URL", proxy.url.clone()));
                vars.push(("TEST_CA_FILE", ca_file.display().to_string()));
            }
            let before = proxy.handshakes();
            let (api, _f) = cold_start(&orchestrator, cgroup.as_deref(), &vars, &event, out).await?;
            out.handshakes.push((proxy.handshakes() - before) as f64);
            let asked = proxy.requests();
            let t = Instant::now();
            answered(api.invoke(&next, WAIT).await?)?;
            out.warm_ms.push(ms(t.elapsed()));
            if v.tls {
                out.warm_requests.push((proxy.requests() - asked) as f64);
            }
        }
        placed += space.all_placed().await?;
    }
    // Absolute: the peer runs from its own folder.
    let peer = match value("--peer-python").zip(value("--peer-dir")) {
        Some((python, dir)) => Some((absolute(python)?, std::fs::canonicalize(dir)?)),
        None => None,
    };
    let subjects = warm_subjects(&orchestrator, peer.as_ref().map(|(p, d)| (p.as_path(), d.as_path())));
    let mut warm: Vec<Warm> = subjects.iter().map(|_| Warm::default()).collect();
    let mut vars = orchestrator_env();
    vars.push(("AWS_ENDPOINT_URL", proxy.url.clone()));
    vars.push(("TEST_CA_FILE", ca_file.display().to_string()));
    vars.push(("AWS_CA_BUNDLE", ca_file.display().to_string()));
    // Region and credentials as Lambda sets them for every runtime: the harness's own (the Rust functions take
    // these for a local endpoint themselves; boto3 does not).
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| shared::adapters::aws::LOCAL_REGION.to_string());
    vars.extend([("AWS_REGION", region.clone()), ("AWS_DEFAULT_REGION", region)]);
    for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        vars.push((k, std::env::var(k).unwrap_or_else(|_| "local".to_string())));
    }
    for run in 0..runs {
        eprintln!("warm path over TLS: run {} of {runs}", run + 1);
        for (i, (subject, out)) in subjects.iter().zip(warm.iter_mut()).enumerate() {
            let space = Space::new(&format!("warm{run}x{i}")).await?;
            let mut events = Vec::new();
            for _ in 0..=WARM_EVENTS {
                candle += 3_600_000;
                events.push(signal_event(&space.env.store(), candle).await?);
            }
            let mut vars = vars.clone();
            vars.extend(function_env(&space.env.p));
            warm_path(subject, &vars, &events, &proxy, out).await?;
            placed += space.all_placed().await?;
        }
    }
    let _ = std::fs::remove_file(&ca_file);
    eprintln!("every one of the {placed} signals was placed (EXEC_ORDER_PLACED)");
    print(&variants, &samples, cgroups.is_some());
    print_warm(&subjects, &warm);
    if let Some(c) = cgroups {
        c.remove();
    }
    Ok(())
}

/// Fresh tables for one run: the emulator's transactions copy the tables they touch (scripts/emulator.py), so their
/// time grows with what earlier runs wrote, which no DynamoDB table does. No daily cap: every signal is placed,
/// which [`Space::all_placed`] checks.
struct Space {
    env: tests::TestEnv,
    since: chrono::DateTime<chrono::Utc>,
}

impl Space {
    async fn new(name: &str) -> Result<Self, BoxError> {
        let env = tests::TestEnv::new(name).await;
        without_daily_cap(&env.store()).await?;
        Ok(Self {
            env,
            since: chrono::Utc::now(),
        })
    }

    async fn all_placed(&self) -> Result<usize, BoxError> {
        all_placed(&self.env.store(), self.since).await
    }
}

/// `path` made absolute, its last component kept as is (a virtualenv's python is a link it must be called by).
fn absolute(path: &str) -> Result<PathBuf, BoxError> {
    let path = Path::new(path);
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// Signals each warm container takes after its first (cold) one.
const WARM_EVENTS: usize = 5;

/// Who the warm path is measured for: the release orchestrator, and the Python peer (bench/peer/) when given.
struct WarmSubject {
    name: &'static str,
    command: Box<dyn Fn() -> Command>,
}

fn warm_subjects(orchestrator: &Path, peer: Option<(&Path, &Path)>) -> Vec<WarmSubject> {
    let binary = orchestrator.to_path_buf();
    let mut out = vec![WarmSubject {
        name: "orchestrator",
        command: Box::new(move || Command::new(&binary)),
    }];
    if let Some((python, dir)) = peer {
        let (python, dir) = (python.to_path_buf(), dir.to_path_buf());
        out.push(WarmSubject {
            name: "python peer",
            command: Box::new(move || python_peer(&python, &dir)),
        });
    }
    out
}

#[derive(Default)]
struct Warm {
    ms: Vec<f64>,
    requests: Vec<f64>,
}

/// One container at a whole CPU behind the TLS proxy: its first signal answered (cold, not counted), then each next
/// one timed from invoke to answer, with the requests it made through the proxy.
async fn warm_path(
    subject: &WarmSubject,
    vars: &[(&'static str, String)],
    events: &[Vec<u8>],
    proxy: &TlsProxy,
    out: &mut Warm,
) -> Result<(), BoxError> {
    let api = RuntimeApi::start().await?;
    let log = std::env::temp_dir().join(format!("bench-warm-{}.log", subject.name.replace(' ', "-")));
    let _f = Function::spawn((subject.command)(), &api, subject.name, vars, &log)?;
    answered(api.invoke(&events[0], WAIT).await?)
        .map_err(|e| format!("{}: {e} (its log: {})", subject.name, log.display()))?;
    for event in &events[1..] {
        let asked = proxy.requests();
        let t = Instant::now();
        answered(api.invoke(event, WAIT).await?).map_err(|e| format!("{}: {e}", subject.name))?;
        out.ms.push(ms(t.elapsed()));
        out.requests.push((proxy.requests() - asked) as f64);
    }
    Ok(())
}

fn print_warm(subjects: &[WarmSubject], warm: &[Warm]) {
    println!();
    println!("The warm path behind TLS, whole CPU, one container each, a placed paper BUY per invocation (min / median / max):");
    println!("| subject | invoke → answer (ms) | requests through the proxy |");
    println!("|---|---|---|");
    for (s, w) in subjects.iter().zip(warm) {
        println!("| {} | {} | {} |", s.name, stats(&w.ms, 1), stats(&w.requests, 0));
    }
    println!();
    let peer = warm
        .get(1)
        .map_or("not-measured".to_string(), |p| format!("{:.1}", median(&p.ms)));
    let peer_trips = warm
        .get(1)
        .map_or("not-measured".to_string(), |p| format!("{:.0}", median(&p.requests)));
    println!(
        "warm round_trips={:.0} latency_ms={:.1} peer_round_trips={peer_trips} peer_latency_ms={peer} tls=on cpu_share=whole",
        median(&warm[0].requests),
        median(&warm[0].ms)
    );
}

fn default_bin_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release")
}

/// One cold start: the process in `cgroup` (its CPU share) from its first instruction, one event, its answer. The
/// container stays up for the caller's warm invocation.
async fn cold_start(
    binary: &Path,
    cgroup: Option<&Path>,
    vars: &[(&'static str, String)],
    event: &[u8],
    out: &mut Samples,
) -> Result<(RuntimeApi, Function), BoxError> {
    let api = RuntimeApi::start().await?;
    let command = match cgroup {
        // The shell joins the cgroup, then becomes the function: its every instruction is under the quota.
        Some(dir) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!("echo $$ > {}/cgroup.procs && exec \"$0\"", dir.display()))
                .arg(binary);
            c
        }
        None => Command::new(binary),
    };
    let log = std::env::temp_dir().join("bench-coldstart-tls.log");
    let started = Instant::now();
    let f = Function::spawn(command, &api, "orchestrator", vars, &log)?;
    answered(api.invoke(event, WAIT).await?).map_err(|e| format!("{e} (its log: {})", log.display()))?;
    let cold = started.elapsed();
    let init = api.first_poll().map(|t| t - started).ok_or("no GET /next recorded")?;
    out.init_ms.push(ms(init));
    out.first_event_ms.push(ms(cold - init));
    out.cold_ms.push(ms(cold));
    out.cpu_ms.push(cpu_ns(f.pid()) as f64 / 1e6);
    Ok((api, f))
}

/// The event was answered, with no record failed.
fn answered(outcome: Invocation) -> Result<(), BoxError> {
    match outcome {
        Invocation::Response(r) if r["batchItemFailures"].as_array().is_some_and(Vec::is_empty) => Ok(()),
        other => Err(format!("orchestrator: {other:?}").into()),
    }
}

/// The cgroups of the CPU shares, made for this run and removed after.
struct Cgroups(PathBuf);

impl Cgroups {
    /// None where the `cpu` controller cannot be written (not root, cgroup v2 only, a container without it).
    fn make() -> Option<Cgroups> {
        let base = Path::new(CGROUP_CPU).join(format!("bench-coldstart-tls-{}", std::process::id()));
        let make = || -> std::io::Result<()> {
            std::fs::create_dir_all(&base)?;
            for mb in SHARES.iter().flatten() {
                let dir = base.join(mb.to_string());
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
                let quota = (share(*mb) * PERIOD_US as f64).round() as u64;
                std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
            }
            std::fs::create_dir_all(base.join("whole"))?;
            Ok(())
        };
        match make() {
            Ok(()) => Some(Cgroups(base)),
            Err(e) => {
                eprintln!("no cgroup for the CPU shares ({e}); they are modelled from the whole-CPU runs");
                let _ = std::fs::remove_dir(&base);
                None
            }
        }
    }

    fn path(&self, mb: u32) -> PathBuf {
        self.0.join(mb.to_string())
    }

    fn whole(&self) -> PathBuf {
        self.0.join("whole")
    }

    fn remove(self) {
        for mb in SHARES.iter().flatten() {
            let _ = std::fs::remove_dir(self.path(*mb));
        }
        let _ = std::fs::remove_dir(self.whole());
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn print(variants: &[Variant], samples: &[Samples], measured_shares: bool) {
    println!();
    println!(
        "Orchestrator cold start, {} (min / median / max):",
        if measured_shares {
            "CPU shares by cgroup quota (100 ms period)"
        } else {
            "CPU shares MODELLED from the whole-CPU runs (no cgroup here)"
        }
    );
    println!("| endpoints | CPU share | warm-up at init | init: spawn → first GET /next (ms) | first event (ms) | cold start: spawn → first response (ms) | CPU (ms) | TLS handshakes | next event, warm (ms) | its requests |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut line = None;
    for (v, s) in variants.iter().zip(samples) {
        let modelled;
        let s = if s.cold_ms.is_empty() {
            // Modelled: the whole-CPU run of the same endpoints and warm-up, its CPU time stretched by the share.
            let Some(whole) = variants
                .iter()
                .zip(samples)
                .find(|(w, _)| w.tls == v.tls && w.warm_up == v.warm_up && w.memory_mb.is_none())
                .map(|(_, s)| s)
            else {
                continue;
            };
            let stretch = v.memory_mb.map_or(1.0, |mb| 1.0 / share(mb) - 1.0);
            let grow = |wall: &[f64], cpu: &[f64]| wall.iter().zip(cpu).map(|(w, c)| w + c * stretch).collect();
            modelled = Samples {
                init_ms: grow(&whole.init_ms, &whole.cpu_ms),
                first_event_ms: vec![],
                cold_ms: grow(&whole.cold_ms, &whole.cpu_ms),
                cpu_ms: whole.cpu_ms.clone(),
                handshakes: whole.handshakes.clone(),
                warm_ms: vec![],
                warm_requests: vec![],
            };
            &modelled
        } else {
            s
        };
        println!(
            "{} {} | {} | {} | {} | {} | {} | {} |",
            v.label(),
            stats(&s.init_ms, 1),
            stats(&s.first_event_ms, 1),
            stats(&s.cold_ms, 1),
            stats(&s.cpu_ms, 1),
            stats(&s.handshakes, 1),
            stats(&s.warm_ms, 1),
            stats(&s.warm_requests, 0)
        );
        if v.tls && v.warm_up && v.memory_mb == Some(128) {
            line = Some(median(&s.cold_ms));
        }
    }
    println!();
    if let Some(ms) = line {
        println!(
            "cold_start tls=on cpu_share_mb=128 first_response_ms={ms:.1} warm_up=on measured={}",
            if measured_shares { "cgroup" } else { "model" }
        );
    }
}
