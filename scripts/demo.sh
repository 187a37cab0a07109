#!/usr/bin/env bash
# The whole pipeline, locally, from a fresh machine: installs what is missing, starts the AWS emulator on
# 127.0.0.1 and a local Telegram sink, creates the tables/queues/secrets, replays the project's real candles through
# evaluator → SQS → orchestrator (paper trading), and prints a summary and the diagnostics report (last on stdout).
# Exit 0 only when the report passes and at least one order was placed.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_python_tools
log "building the functions and the local harness (the first build takes a few minutes; cargo shows its progress)"
cargo build -p tests --bins
emulator_up
sink_up
trap 'if [ "$EMULATOR_STARTED" = 1 ]; then emulator_down; fi; if [ "$SINK_STARTED" = 1 ]; then sink_down; fi' EXIT
emulator_reset   # a clean slate: the demo's numbers are its own
SIGNALS_QUEUE_URL=$("$ROOT/target/debug/local-stack" data/watchlist.json | sed -n 's/^SIGNALS_QUEUE_URL=//p')
export SIGNALS_QUEUE_URL
export LIVE_TRADING=false PAPER_TRADING=true TIMEFRAME="${TIMEFRAME:-1h}"
export RUST_LOG="${RUST_LOG:-warn}"   # progress lines stay readable; RUST_LOG=info shows every decision as JSON
log "replaying real candles (paper trading, LIVE_TRADING=false)"
"$ROOT/target/debug/pipeline"
