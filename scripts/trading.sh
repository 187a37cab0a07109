#!/usr/bin/env bash
# The kill switch and the global risk limits (see tests/src/bin/trading.rs and docs/OPERATIONS.md, "Risk limits and the kill
# switch").
#   RISK_TABLE=<stack output RiskTableName> ./scripts/trading.sh status                   # a deployment (AWS env)
#   ./scripts/trading.sh --local halt --reason "exchange maintenance"                     # the local stack
#   ./scripts/trading.sh --local resume
#   ./scripts/trading.sh --local limits set '{"max_orders_per_day":20}'    # only the settings named change
set -euo pipefail
source "$(dirname "$0")/args.sh"
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--local" ]; then
  shift
  source scripts/lib.sh    # the local emulator on 127.0.0.1
fi
echo "trading: building the command (cargo shows its progress; the first build takes a few minutes)" >&2
cargo build -p tests --bin trading >&2
exec "${CARGO_TARGET_DIR:-target}/debug/trading" "$@"
