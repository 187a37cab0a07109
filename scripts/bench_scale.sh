#!/usr/bin/env bash
# Scale benchmark (not a test): one evaluator run over 100 / 1,000 / 5,000 symbols against a local candle API that
# answers after 50 ms and admits 100 requests a second (429 over it), and bursts of 100 / 1,000 BUY signals decided
# by three orchestrator containers against the exchange stand-in (50 ms, 15 create-orders per 100 ms, 42901 over it).
# Then the cost model (tests/src/cost.rs), then the orchestrator's cold start over TLS at 128 MB / 512 MB / whole CPU
# shares, and the warm path behind TLS beside the Python peer's (bench-coldstart-tls, bench/peer/; it starts the local
# emulator). Prints the tables, each followed by its key=value goal lines (evaluator, burst, cost; cold_start, warm). Loopback only; no AWS needed. Release build.
#   ./scripts/bench_scale.sh [--quick] [--containers N] [--batch N] [--order-budget 5/100ms]
#     --quick   leaves out the 5,000-symbol run (≈ 2 minutes less) and takes 3 cold starts a variant, not 10
set -euo pipefail
source "$(dirname "$0")/args.sh"
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) shift ;;
    --containers|--batch|--order-budget) [ $# -ge 2 ] || usage_error "$1 needs a value"; shift 2 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
cd "$(dirname "$0")/.."
source scripts/lib.sh
cargo build -q --release -p orchestrator -p tests --bin orchestrator --bin bench-scale --bin bench-coldstart-tls
release="${CARGO_TARGET_DIR:-target}/release"
"$release/bench-scale" "${args[@]}"
# The cold start over TLS needs the emulator (the functions' AWS), started here on loopback and stopped after.
emulator_up
trap 'if [ "$EMULATOR_STARTED" = 1 ]; then emulator_down; fi' EXIT
runs=10
for a in "${args[@]}"; do [ "$a" = --quick ] && runs=3; done
ensure_peer_venv
"$release/bench-coldstart-tls" --runs "$runs" --bin-dir "$release" --peer-python "$PEER_VENV/bin/python" --peer-dir "$ROOT/bench/peer"
