#!/usr/bin/env bash
# The whole pipeline, locally, from a fresh machine: installs what is missing, starts the AWS emulator and a local
# Telegram sink on 127.0.0.1, creates the tables/queues/secrets, replays the project's real candles through
# evaluator → SQS → orchestrator (paper trading), and prints a summary and the diagnostics report (last on stdout).
# Exit 0 only when the report passes and at least one order was placed.
#   --serve            keep the local stack running afterwards and serve the diagnostics API on 127.0.0.1 (prints
#                      API_URL= and DIAGNOSTICS_KEY= lines first); stop it with ./scripts/local.sh down
#   --candles DIR      replay your own candle files (`SYMBOL-<anything>.json`, rows [open_ms, o, h, l, c, v]; also
#                      REPLAY_DIR=DIR): the watchlist is one entry per file's symbol, default preset, 100 USD per order
#   --watchlist FILE   the watchlist to seed instead (default data/watchlist.json; with --candles, entries without
#                      candles are left out, one line each)
#   ./scripts/demo.sh [--serve] [--candles DIR] [--watchlist FILE]
set -euo pipefail
source "$(dirname "$0")/args.sh"
source "$(dirname "$0")/lib.sh"
SERVE=0
CANDLES="${REPLAY_DIR:-}"
WATCHLIST=""
while [ $# -gt 0 ]; do
  case "$1" in
    --serve) SERVE=1; shift ;;
    --candles) [ $# -ge 2 ] || usage_error "--candles needs a folder"; CANDLES="$2"; shift 2 ;;
    --watchlist)
      [ $# -ge 2 ] || usage_error "--watchlist needs a file"
      WATCHLIST="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
if [ -n "$CANDLES" ]; then
  [ -d "$CANDLES" ] || { echo "--candles $CANDLES: not a folder" >&2; exit 2; }
  CANDLES="$(cd "$CANDLES" && pwd)"
  export REPLAY_DIR="$CANDLES"
fi
cd "$ROOT"

ensure_python_tools
log "building the functions and the local harness (the first build takes a few minutes; cargo shows its progress)"
cargo build -p tests --bins
emulator_up
sink_up
if [ "$SERVE" = 0 ]; then
  trap 'if [ "$EMULATOR_STARTED" = 1 ]; then emulator_down; fi; if [ "$SINK_STARTED" = 1 ]; then sink_down; fi' EXIT
fi
emulator_reset   # a clean slate: the demo's numbers are its own
if [ -n "$CANDLES" ]; then
  boot=$("$(bin debug local-stack)" ${WATCHLIST:+"$WATCHLIST"} --candles "$CANDLES")
else
  boot=$("$(bin debug local-stack)" "${WATCHLIST:-data/watchlist.json}")
fi
SIGNALS_QUEUE_URL=$(echo "$boot" | sed -n 's/^SIGNALS_QUEUE_URL=//p')
export SIGNALS_QUEUE_URL
if [ "$SERVE" = 1 ]; then api_up "$(echo "$boot" | sed -n 's/^DIAGNOSTICS_KEY=//p')"; fi
export LIVE_TRADING=false PAPER_TRADING=true TIMEFRAME="${TIMEFRAME:-1h}"
export RUST_LOG="${RUST_LOG:-warn}"   # progress lines stay readable; RUST_LOG=info shows every decision as JSON
log "replaying real candles (paper trading, LIVE_TRADING=false)"
"$(bin debug pipeline)"
