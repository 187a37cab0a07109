#!/usr/bin/env bash
# Lists, adds, removes and imports watchlist rows, with validation (see ops/src/watchlist.rs).
#   WATCHLIST_TABLE=<stack output WatchlistTableName> ./scripts/watchlist.sh list          # a deployment (AWS env)
#   ./scripts/watchlist.sh --local add '{"symbol":"BTC_USDT","preset":"swing-aggressive","trade_amount_usd":"100"}'
#   ./scripts/watchlist.sh --local --dry-run import data/watchlist.json                    # the local stack
set -euo pipefail
source "$(dirname "$0")/args.sh"
if [ "${1:-}" = "--local" ]; then
  shift
  exec "$(dirname "$0")/ops.sh" --local watchlist "$@"
fi
exec "$(dirname "$0")/ops.sh" -- watchlist "$@"
