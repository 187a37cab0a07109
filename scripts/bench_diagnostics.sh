#!/usr/bin/env bash
# Benchmark of the diagnostics report: loads 10,000 signals (or $1) over a 7-day window into its own emulator on
# 127.0.0.1, then prints the DynamoDB requests per report, the computation time and the end-to-end latency.
# A measurement, not a test: it prints numbers and asserts nothing. Release build (as deployed).
#   ./scripts/bench_diagnostics.sh [SIGNALS]
set -euo pipefail
source "$(dirname "$0")/args.sh"
case "${1:-10000}" in
  *[!0-9]*|"") usage_error "SIGNALS is a whole number, not ${1}" ;;
esac
[ $# -le 1 ] || usage_error "one argument at most"
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export EMULATOR_PORT="${BENCH_EMULATOR_PORT:-4581}"
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}"
ensure_python_tools
log "building the benchmark (release)"
cargo build --release -p tests --bin bench-diagnostics
emulator_up
trap 'if [ "$EMULATOR_STARTED" = 1 ]; then emulator_down; fi' EXIT
"$(bin release bench-diagnostics)" "${1:-10000}"
