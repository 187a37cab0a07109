#!/usr/bin/env bash
# The whole pipeline, locally, from a fresh machine: installs what is missing, starts the AWS emulator and a local
# Telegram sink on 127.0.0.1, creates the tables/queues/secrets, replays the project's real candles through
# evaluator → SQS → orchestrator (paper trading), and prints a summary and the diagnostics report (last on stdout).
# Exit 0 only when the report passes and at least one order was placed.
#   --serve   keep the local stack running afterwards and serve the diagnostics API on 127.0.0.1 (prints API_URL=
#             and DIAGNOSTICS_KEY= lines first); stop it with ./scripts/local.sh down
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
SERVE=0
case "${1:-}" in
  --serve) SERVE=1 ;;
  "") ;;
  *) echo "usage: $0 [--serve]" >&2; exit 2 ;;
esac

ensure_python_tools
log "building the functions and the local harness (the first build takes a few minutes; cargo shows its progress)"
cargo build -p tests --bins
emulator_up
sink_up
if [ "$SERVE" = 0 ]; then
  trap 'if [ "$EMULATOR_STARTED" = 1 ]; then emulator_down; fi; if [ "$SINK_STARTED" = 1 ]; then sink_down; fi' EXIT
fi
emulator_reset   # a clean slate: the demo's numbers are its own
boot=$("$(bin debug local-stack)" data/watchlist.json)
SIGNALS_QUEUE_URL=$(echo "$boot" | sed -n 's/^SIGNALS_QUEUE_URL=//p')
export SIGNALS_QUEUE_URL
if [ "$SERVE" = 1 ]; then api_up "$(echo "$boot" | sed -n 's/^DIAGNOSTICS_KEY=//p')"; fi
export LIVE_TRADING=false PAPER_TRADING=true TIMEFRAME="${TIMEFRAME:-1h}"
export RUST_LOG="${RUST_LOG:-warn}"   # progress lines stay readable; RUST_LOG=info shows every decision as JSON
log "replaying real candles (paper trading, LIVE_TRADING=false)"
"$(bin debug pipeline)"
