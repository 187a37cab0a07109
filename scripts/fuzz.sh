#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every parser that reads outside input: the SQS message body, the
# API's query string, Telegram updates, Crypto.com's candlestick answers and error classification, replay candle
# files. Each target runs for SECONDS (default 60); seeds come from events/ and data/. A crash leaves its input under
# fuzz/artifacts/<target>/ and fails the script: turn it into a regression test, then fix the code.
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]
# cargo-fuzz needs nightly compiler flags (-Zsanitizer): on the stable toolchain they are allowed with
# RUSTC_BOOTSTRAP=1, set here for the fuzz build only.
set -euo pipefail
source "$(dirname "$0")/args.sh"
ALL_TARGETS=(sqs_message api_query telegram_update candlestick candle_file exchange_error exchange_replies telegram_reply)
case "${1:-60}" in
  *[!0-9]*|"") usage_error "SECONDS is a whole number, not ${1}" ;;
esac
seconds="${1:-60}"
shift || true
targets=("$@")
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || usage_error "unknown target $t (one of: ${ALL_TARGETS[*]})"
done
[ "${#targets[@]}" -gt 0 ] || targets=("${ALL_TARGETS[@]}")
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION (once, ~1 min)"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# Seed corpora, rebuilt each run from the project's own samples (small: libFuzzer grows them).
corpus="$STATE/fuzz-corpus"
rm -rf "$corpus"
python3 - "$corpus" <<'PY'
import json, os, sys
out = sys.argv[1]
def put(target, name, data):
    os.makedirs(f"{out}/{target}", exist_ok=True)
    open(f"{out}/{target}/{name}", "wb").write(data if isinstance(data, bytes) else data.encode())
put("sqs_message", "signal-message", open("events/signal-message.json").read())
for r in json.load(open("events/orchestrator-sqs.json"))["Records"]:
    put("sqs_message", r["messageId"], r["body"])
put("telegram_update", "halt", json.load(open("events/telegram-webhook-halt.json"))["body"])
put("api_query", "ok", "hours=12&limit=500&side=buy")
put("api_query", "bad", "hours=0&hours=1&limit=x&side=HOLD")
candles = sorted(os.listdir("data/candles"))
rows = [f for f in candles if f.endswith(".json")]
if rows:
    data = json.load(open(f"data/candles/{rows[0]}"))
    sample = data[:50] if isinstance(data, list) else data
    put("candle_file", "sample", json.dumps(sample))
    put("candlestick", "sample", b"\x00" * 9 + json.dumps({"code": 0, "result": {"data": [
        {"t": 1637481600000, "o": "1.0", "h": "1.1", "l": "0.9", "c": "1.05", "v": "100"},
        {"t": 1637485200000, "o": 1.0, "h": 1.2, "l": 0.8, "c": 1.1, "v": 50}]}}).encode())
put("exchange_error", "insufficient", b"\x00\x00\x00\x00\x00\x00\x01\x36Insufficient balance")
put("exchange_replies", "order-detail", b"\x00" + json.dumps({"code": 0, "result": {"order_id": "1", "status": "REJECTED",
    "reason": "306", "cumulative_quantity": "0"}}).encode())
put("exchange_replies", "tickers", b"\x00" + json.dumps({"code": 0, "result": {"data": [{"i": "BTC_USD", "a": "95000.5"}],
    "base_currency_config": [{"base_ccy": "BTC", "min_order_notional_usd": "1"}]}}).encode())
put("exchange_replies", "instruments", b"\x00" + json.dumps({"code": 0, "result": {"data": [{"symbol": "BTC_USDT",
    "qty_tick_size": "0.00001", "base_ccy": "BTC", "quote_decimals": 2}]}}).encode())
put("exchange_replies", "create-order-duplicate", b"\x01" + json.dumps({"code": 204, "message": "DUPLICATE_CLORDID"}).encode())
put("exchange_replies", "create-order-5xx", b"\x07" + b"<html>bad gateway</html>")
put("telegram_reply", "sent", b"\x00" + json.dumps({"ok": True, "result": {"message_id": 7}}).encode())
put("telegram_reply", "html-refused", b"\xc8" + json.dumps({"ok": False, "description": "Bad Request: can't parse entities"}).encode())
put("telegram_reply", "rate-limited", b"\xe5" + json.dumps({"ok": False, "parameters": {"retry_after": 3}}).encode())
PY

failed=()
for t in "${targets[@]}"; do
  log "fuzzing $t for ${seconds}s"
  mkdir -p "$corpus/$t"
  RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz "$t" "$corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 2>"$STATE/fuzz-$t.log" \
    || { tail -30 "$STATE/fuzz-$t.log" >&2; failed+=("$t"); continue; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$STATE/fuzz-$t.log" | tr '\n' ' ' >&2; echo >&2
done
if [ "${#failed[@]}" -gt 0 ]; then
  log "fuzzing FAILED: ${failed[*]} (inputs under fuzz/artifacts/)"
  exit 1
fi
log "fuzzing: ${#targets[@]} targets, ${seconds}s each, no crash"
