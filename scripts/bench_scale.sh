#!/usr/bin/env bash
# Scale benchmark (not a test): one evaluator run over 100 / 1,000 / 5,000 symbols against a local candle API that
# answers after 50 ms and admits 100 requests a second (429 over it), and bursts of 100 / 1,000 BUY signals decided
# by three orchestrator containers against the exchange stand-in (50 ms, 15 create-orders per 100 ms, 42901 over it).
# Then the cost model (tests/src/cost.rs). Prints the tables, then one key=value line per goal (evaluator, burst,
# cost). Loopback only; no AWS needed. Release build.
#   ./scripts/bench_scale.sh [--quick] [--containers N] [--batch N] [--order-budget 5/100ms]
#     --quick   leaves out the 5,000-symbol run (≈ 2 minutes less)
set -euo pipefail
source "$(dirname "$0")/args.sh"
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) shift ;;
    --containers|--order-budget) [ $# -ge 2 ] || usage_error "$1 needs a value"; shift 2 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
cd "$(dirname "$0")/.."
cargo build -q --release -p tests --bin bench-scale
exec "${CARGO_TARGET_DIR:-target}/release/bench-scale" "${args[@]}"
