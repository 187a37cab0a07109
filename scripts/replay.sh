#!/usr/bin/env bash
# Runs the evaluator's strategy over a candle file, without AWS, and prints one JSON document (indicators per closed
# candle, decision before the throttle, signals with `throttled`).
#   ./scripts/replay.sh data/candles/ETH_BTC-5m.json --preset swing-aggressive [--timeframe 1h]
#   ./scripts/replay.sh data/candles/ETH_BTC-5m.json --preset all --quote-usd 11500 --report backtest.html
#     (or --chart out.svg; the report is in USD: --amount-usd per order, --quote-usd for a quote that is not a dollar)
set -euo pipefail
source "$(dirname "$0")/args.sh"
exec "$(dirname "$0")/ops.sh" replay "$@"
