#!/usr/bin/env bash
# Checks the signal-to-order invariant through the diagnostics API, like the seed's script of the same name.
#   API_URL=https://… DIAGNOSTICS_KEY=… ./scripts/verify_production_invariant.sh
# Works against the deployed API and the local stack (`./scripts/local.sh up` prints both values).
# Optional: HOURS (default 12), LIMIT (default 500).
# Exit: 0 when `pass` is true, 1 when it is false, 2 when the call or its JSON fails.
set -uo pipefail
source "$(dirname "$0")/args.sh"
[ $# -eq 0 ] || usage_error "takes no arguments (got $1; settings come from the environment)"

: "${API_URL:?set API_URL to the diagnostics API base URL}"
HOURS="${HOURS:-12}"
LIMIT="${LIMIT:-500}"
url="${API_URL%/}/api/diagnostics/recent-signals?hours=${HOURS}&limit=${LIMIT}"

body=$(mktemp)
trap 'rm -f "$body"' EXIT
status=$(curl -sS --max-time 30 -o "$body" -w '%{http_code}' -H "X-Diagnostics-Key: ${DIAGNOSTICS_KEY:-}" "$url") || {
  echo "ERROR: request to $url failed"
  exit 2
}
if [ "$status" != 200 ]; then
  echo "ERROR: HTTP $status from $url: $(head -c 300 "$body")"
  exit 2
fi

python3 - "$body" <<'PY'
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        r = json.load(f)
    counts = r["counts"]
    passed = r["pass"]
    violations = r["violations"]
except (ValueError, KeyError, TypeError) as e:
    print(f"ERROR: the response is not a diagnostics report: {e}")
    sys.exit(2)
if not isinstance(passed, bool):
    print("ERROR: `pass` is not a boolean")
    sys.exit(2)
print(f"PASS: {str(passed).lower()}")
for k in ("total_signals", "missing_intent", "null_decisions", "failed_without_telegram", "placed", "failed", "dedup"):
    print(f"{k}: {counts.get(k)}")
print(f"violations_count: {len(violations)}")
for v in violations[:3]:
    print(f"  - {v.get('violation')} {v.get('signal_id')} ({v.get('symbol')} {v.get('side')}): {v.get('message')}")
sys.exit(0 if passed else 1)
PY
