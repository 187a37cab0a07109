#!/usr/bin/env bash
# Benchmark of the evaluator: indicators + rules CPU for 100 symbols × 300 candles, and one run's wall time over 100
# symbols against a local fake exchange with 50 ms latency. Loopback only; no AWS needed. Release build.
#   ./scripts/bench_evaluator.sh
set -euo pipefail
source "$(dirname "$0")/args.sh"
[ $# -eq 0 ] || usage_error "takes no arguments (got $1)"
cd "$(dirname "$0")/.."
exec cargo run --release -p tests --bin bench-evaluator
