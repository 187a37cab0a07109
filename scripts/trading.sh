#!/usr/bin/env bash
# The kill switch and the global risk limits (see ops/src/trading.rs and docs/OPERATIONS.md, "Risk limits and the kill
# switch").
#   RISK_TABLE=<stack output RiskTableName> ./scripts/trading.sh status                   # a deployment (AWS env)
#   ./scripts/trading.sh --local halt --reason "exchange maintenance"                     # the local stack
#   ./scripts/trading.sh --local resume
#   ./scripts/trading.sh --local limits set '{"max_orders_per_day":20}'    # only the settings named change
set -euo pipefail
source "$(dirname "$0")/args.sh"
if [ "${1:-}" = "--local" ]; then
  shift
  exec "$(dirname "$0")/ops.sh" --local trading "$@"
fi
exec "$(dirname "$0")/ops.sh" -- trading "$@"
