#!/usr/bin/env bash
# The local AWS stack. `./scripts/local.sh up` installs what is missing, starts the emulator on 127.0.0.1, creates
# the tables, index, queue + DLQ and secrets, seeds the watchlist from data/watchlist.json and starts the local
# Telegram sink and the diagnostics API on 127.0.0.1, printing API_URL= and DIAGNOSTICS_KEY= (running it twice is
# harmless); `reset` empties the emulator and bootstraps again; `down` stops what
# it started (by recorded PID).
#   ./scripts/local.sh [up|reset|down]
set -euo pipefail
source "$(dirname "$0")/args.sh"
case "${1:-up}" in
  up|reset|down) [ $# -le 1 ] || usage_error "one command at most" ;;
  *) usage_error "unknown command $1" ;;
esac
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bootstrap() {
  log "building the local harness"
  cargo build --quiet -p tests --bin local-stack --bin telegram-sink --bin diagnostics-server
  sink_up
  local boot
  boot=$("$(bin debug local-stack)" "${WATCHLIST_FILE:-data/watchlist.json}")
  echo "$boot" | grep '^SIGNALS_QUEUE_URL='
  api_up "$(echo "$boot" | sed -n 's/^DIAGNOSTICS_KEY=//p')"
}

case "${1:-up}" in
  up) ensure_python_tools; emulator_up; bootstrap ;;
  reset) ensure_python_tools; emulator_up; emulator_reset; bootstrap ;;
  down) api_down; sink_down; emulator_down ;;
esac
