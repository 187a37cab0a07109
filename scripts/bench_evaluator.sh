#!/usr/bin/env bash
# Benchmark of the evaluator: indicators + rules CPU for 100 symbols × 300 candles, and one run's wall time over 100
# symbols against a local fake exchange with 50 ms latency. Loopback only; no AWS needed. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -p tests --bin bench-evaluator
