#!/usr/bin/env bash
# One reconciliation pass against a stack (docs/DESIGN.md §13; ops/src/reconcile.rs): placed orders without a
# final fill read from the exchange and recorded, PENDING ORDER EXECUTED messages resent, ghost orders checked, the
# loss breaker checked; prints what it changed as JSON. Safe beside the sweeper and when run twice.
#   ./scripts/reconcile.sh --local                 # the local stack (the demo's: ./scripts/demo.sh --serve)
#   ORDER_INTENTS_TABLE=… ALERTS_TABLE=… RISK_TABLE=… LIVE_TRADING=… ./scripts/reconcile.sh [--hours N]
#                                                  # a deployment: its tables and exchange settings, AWS env
set -euo pipefail
source "$(dirname "$0")/args.sh"
where=(--)
case "${1:-}" in
  --local) shift; where=(--local) ;;
esac
case "${1:-}" in
  "") ;;
  --hours) [ $# -eq 2 ] || usage_error "--hours needs a number of hours" ;;
  *) usage_error "unknown argument $1" ;;
esac
exec "$(dirname "$0")/ops.sh" "${where[@]}" reconcile "$@"
