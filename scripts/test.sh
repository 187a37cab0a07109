#!/usr/bin/env bash
# Every check of the project: formatting, clippy (warnings are errors), all tests — unit, adapter and integration
# against the AWS emulator, which this script starts on 127.0.0.1 and stops again — and cfn-lint on template.yaml.
# Every check runs even when an earlier one failed (tests with --no-fail-fast), so one run shows every failure; the
# script exits non-zero if any failed.
#
#   ./scripts/test.sh                  every check
#   ./scripts/test.sh --repeat N       only the integration tests against the emulator (one binary: the concurrency,
#                                      race and fault tests side by side with the others), N times in a row (stops at
#                                      the first failure and says which round); the emulator is started as for the
#                                      full run
set -euo pipefail
source "$(dirname "$0")/args.sh"
case "${1:-}" in
  "") ;;
  --repeat) [ $# -eq 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage_error "--repeat needs a number of rounds" ;;
  *) usage_error "unknown argument $1" ;;
esac
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export EMULATOR_PORT="${TEST_EMULATOR_PORT:-4577}"   # its own emulator, apart from a running demo
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}"

# The integration tests, one binary: among them the ones that race writers against each other on the emulator
# (docs/DESIGN.md §5: 50 concurrent deliveries, killed and fenced workers, overlapping evaluator runs) and the runs
# under injected faults and outages (§12), side by side with the rest.
INTEGRATION_TESTS=(-p tests --test integration)
# The gate builds every crate once: incremental state would only take disk (GBs on a fresh clone). A caller's own
# setting wins.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

ensure_python_tools
ensure_chromium
emulator_up
trap 'if [ "$EMULATOR_STARTED" = 1 ]; then emulator_down; fi' EXIT

if [ "${1:-}" = "--repeat" ]; then
  rounds="${2:?--repeat needs a count}"
  # Build once (the runtime tests start the functions' binaries), then run the test binary itself: every round tests
  # the same build.
  cargo build --workspace --bins
  mapfile -t binaries < <(cargo test "${INTEGRATION_TESTS[@]}" --no-run --message-format=json \
    | "$VENV/bin/python" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])')
  for i in $(seq 1 "$rounds"); do
    log "integration tests, round $i of $rounds"
    for bin in "${binaries[@]}"; do
      "$bin" -q >"$STATE/repeat.log" 2>&1 \
        || { cat "$STATE/repeat.log" >&2; log "round $i of $rounds FAILED in $(basename "$bin")"; exit 1; }
    done
  done
  log "integration tests passed $rounds rounds in a row"
  exit 0
fi

failed=()
log "cargo fmt --check"
cargo fmt --all -- --check || failed+=("cargo fmt")
log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings || failed+=("cargo clippy")
log "cargo build --workspace --bins (the runtime tier starts the functions' binaries as Lambda does)"
cargo build --workspace --bins || failed+=("cargo build")
log "cargo test --workspace --no-fail-fast (unit, adapter, integration against $AWS_ENDPOINT_URL, runtime tier)"
# As a Rust engineer runs it: AWS_ENDPOINT_URL alone (the harness and the tools take local credentials and a region
# for a loopback endpoint themselves).
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_REGION -u AWS_DEFAULT_REGION \
  -u AWS_PROFILE -u AWS_EC2_METADATA_DISABLED cargo test --workspace --no-fail-fast || failed+=("cargo test")
# The diagnostics API fuzzed from its OpenAPI document: every response must conform (status, headers, body schema)
# and none may be a 5xx — with the key, and without it (then every answer is the documented 401).
schemathesis() {
  local port=4593 pid ok=0
  "$(bin debug local-stack)" data/watchlist.json >/dev/null || return 1
  DIAGNOSTICS_AUTH=on RUST_LOG=warn "$(bin debug diagnostics-server)" "127.0.0.1:$port" 2>"$STATE/schemathesis-server.log" &
  pid=$!
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; [ $? -ne 7 ] && break; sleep 0.1; done
  for key in local-diagnostics-key-0123456789 ""; do
    (cd "$STATE" && "$VENV/bin/st" run "$ROOT/functions/diagnostics/openapi.json" --url "http://127.0.0.1:$port" \
      ${key:+-H "X-Diagnostics-Key: $key"} --checks all --max-examples 100 --seed 20261202 \
      --generation-database none --no-color) || ok=1
  done
  kill "$pid" 2>/dev/null || true
  return $ok
}
log "schemathesis against functions/diagnostics/openapi.json (local diagnostics server, with and without the key)"
schemathesis || failed+=("schemathesis")
# Supply chain: licences, duplicate versions (listed), sources; advisories when the RustSec database can be updated
# (it lives on GitHub) or a copy exists — said either way.
CARGO_DENY_VERSION=0.20.2
supply_chain() {
  if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    log "installing cargo-deny $CARGO_DENY_VERSION (once, ~3 min)"
    cargo install --quiet --locked cargo-deny --version "$CARGO_DENY_VERSION" || return 1
  fi
  cargo deny --log-level error check licenses bans sources || return 1
  if timeout 60 cargo deny fetch db >/dev/null 2>&1; then
    cargo deny --log-level error check advisories
  elif find "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | grep -q .; then
    log "the advisory database could not be updated: checking advisories against the local copy"
    cargo deny --log-level error --offline check advisories
  else
    log "the advisory database could not be fetched (no network to GitHub) and there is no copy: advisories NOT checked"
  fi
}
log "fuzzing: every parser of outside input, 10 s per target (./scripts/fuzz.sh N for longer runs)"
./scripts/fuzz.sh 10 || failed+=("fuzzing")
log "cargo deny (supply chain)"
supply_chain || failed+=("cargo deny")
log "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml || failed+=("cfn-lint")
if ensure_deploy_tools; then
  log "cfn-lint with the serverless rules; sam validate --lint"
  "$TOOLS_VENV/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- template.yaml || failed+=("cfn-lint serverless rules")
  SAM_CLI_TELEMETRY=0 "$TOOLS_VENV/bin/sam" validate --lint -t template.yaml >/dev/null || failed+=("sam validate --lint")
else
  failed+=("installing the deployment tools")
fi
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml || failed+=("workflow schema")
# The benches' Python peer parses (its packages live in .venv-bench, which only the benches install).
"$VENV/bin/python" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' bench/peer/handler.py \
  || failed+=("bench peer")
if [ "${#failed[@]}" -gt 0 ]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all checks passed"
