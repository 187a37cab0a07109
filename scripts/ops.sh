#!/usr/bin/env bash
# The operations command (ops/): builds it, then runs it with the rest of the arguments. `--local` first aims it at
# the local stack (the emulator on 127.0.0.1, the demo's tables); otherwise it works on the deployment whose table
# names the environment gives (the stack outputs; docs/OPERATIONS.md), with AWS credentials and region as for any
# AWS tool. Every command answers --help.
#   ./scripts/ops.sh --help                                      # this text; `./scripts/ops.sh -- --help` the command's
#   ./scripts/ops.sh --local trading status
#   RISK_TABLE=<stack output RiskTableName> ./scripts/ops.sh trading limits set '{"max_orders_per_day":20}'
#   ./scripts/ops.sh replay data/candles/ETH_BTC-5m.json --preset all --quote-usd 11500 --report backtest.html
# In an emergency there is no need to wait for a build: docs/OPERATIONS.md gives the AWS CLI command that halts.
set -euo pipefail
source "$(dirname "$0")/args.sh"
cd "$(dirname "$0")/.."
case "${1:-}" in
  --local) shift; source scripts/lib.sh ;;   # the local emulator on 127.0.0.1 and the local Telegram sink
  --) shift ;;
esac
[ $# -gt 0 ] || usage_error "name a command (watchlist, trading, reconcile, report, dlq, rotate, replay)"
bin="${CARGO_TARGET_DIR:-target}/debug/ops"
[ -x "$bin" ] || echo "ops: building the command once (cargo shows its progress; a first build takes a few minutes)" >&2
cargo build -q -p ops >&2 || cargo build -p ops >&2
exec "$bin" "$@"
