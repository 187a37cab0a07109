#!/usr/bin/env bash
# One reconciliation pass against a stack (docs/DESIGN.md §13; tests/src/bin/reconcile.rs): placed orders without a
# final fill read from the exchange and recorded, PENDING ORDER EXECUTED messages resent, ghost orders checked, the
# loss breaker checked; prints what it changed as JSON. Safe beside the sweeper and when run twice.
#   ./scripts/reconcile.sh --local                 # the local stack (the demo's: ./scripts/demo.sh --serve)
#   ORDER_INTENTS_TABLE=… ALERTS_TABLE=… RISK_TABLE=… LIVE_TRADING=… ./scripts/reconcile.sh [--hours N]
#                                                  # a deployment: its tables and exchange settings, AWS env
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --local) shift; source scripts/lib.sh ;;   # the local emulator on 127.0.0.1 and the local Telegram sink
esac
echo "reconcile: building the command (the first time takes a minute)" >&2
cargo build --quiet -p tests --bin reconcile
exec "${CARGO_TARGET_DIR:-target}/debug/reconcile" "$@"
