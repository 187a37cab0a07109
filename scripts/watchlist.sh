#!/usr/bin/env bash
# Lists, adds, removes and imports watchlist rows, with validation (see tests/src/bin/watchlist.rs).
#   WATCHLIST_TABLE=<stack output WatchlistTableName> ./scripts/watchlist.sh list          # a deployment (AWS env)
#   ./scripts/watchlist.sh --local add '{"symbol":"BTC_USDT","preset":"swing-aggressive","trade_amount_usd":"100"}'
#   ./scripts/watchlist.sh --local --dry-run import data/watchlist.json                    # the local stack
set -euo pipefail
source "$(dirname "$0")/args.sh"
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--local" ]; then
  shift
  source scripts/lib.sh    # the local emulator on 127.0.0.1
fi
echo "watchlist: building the command (cargo shows its progress; the first build takes a few minutes)" >&2
cargo build -p tests --bin watchlist >&2
exec "${CARGO_TARGET_DIR:-target}/debug/watchlist" "$@"
