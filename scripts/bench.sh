#!/usr/bin/env bash
# Performance evidence, one command: cold start, memory and latency of every function's release binary started the
# way Lambda starts it (a local Runtime API, its own emulator on 127.0.0.1 as AWS) beside a Python peer of the
# orchestrator (Powertools idempotency + boto3 under awslambdaric, bench/peer/); binary and zipped sizes; DynamoDB
# requests per signal counted on the wire; throughput; and instruction counts (valgrind's callgrind) that do not
# drift with machine load. Prints tables; asserts nothing; not part of the tests.
#
#   ./scripts/bench.sh [RUNS]      cold starts per subject (default 20), subjects interleaved run by run
#   ./scripts/bench.sh --profiles  the orchestrator built with each candidate profile of Cargo.toml (opt-level s (the
#                                  release profile)/3/z, panic unwind/abort): size, zipped size, instructions per signal
#   ORCHESTRATOR_VARIANT=path ./scripts/bench.sh   adds that orchestrator binary (e.g. one --profiles built and
#                                  stripped under .local/) to the interleaved cold-start runs
set -euo pipefail
source "$(dirname "$0")/args.sh"
case "${1:-20}" in
  --profiles) [ $# -eq 1 ] || usage_error "--profiles takes nothing else" ;;
  *[!0-9]*|"") usage_error "RUNS is a whole number, not ${1}" ;;
  *) [ $# -le 1 ] || usage_error "one argument at most" ;;
esac
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
runs="${1:-20}"
export EMULATOR_PORT="${BENCH_EMULATOR_PORT:-4582}"
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}"
FUNCTIONS=(orchestrator evaluator diagnostics sweeper authorizer telegram-webhook)

ensure_python_tools
ensure_peer_venv
command -v valgrind >/dev/null || { log "installing valgrind (Debian)"; apt-get install -y -qq valgrind >/dev/null; }

# size PATH NAME: one table row, the binary's size and its size zipped as Lambda's bootstrap.
size_row() {
  "$VENV/bin/python" - "$1" "$2" <<'PY'
import io, os, sys, zipfile
path, name = sys.argv[1], sys.argv[2]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(path, "bootstrap")
print(f"| {name} | {os.path.getsize(path) / 1e6:.1f} | {len(buf.getvalue()) / 1e6:.1f} |")
PY
}

# instructions MODE N UNIT PROFILE: callgrind's count of the measured region, per unit.
instructions() {
  local exe; exe="$(bin "$4" bench-instructions)"
  local collected units
  collected=$(valgrind --tool=callgrind --collect-atstart=no '--toggle-collect=*measured*' \
      --callgrind-out-file="$STATE/callgrind-$1-$4.out" "$exe" "$1" "$2" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  units=$("$exe" "$1" "$2" 2>/dev/null | sed -n 's/.*: \([0-9]*\) units measured/\1/p')
  echo "$((collected / units)) instructions per $3 ($collected over $units)"
}

if [ "${1:-}" = "--profiles" ]; then
  echo "| profile of the orchestrator | bootstrap, stripped (MB) | zipped (MB) | instructions per signal |"
  echo "|---|---|---|---|"
  for profile in release-symbols release-o3 release-z release-abort; do
    log "building the orchestrator and the instruction driver with profile $profile"
    cargo build -q --profile "$profile" -p orchestrator -p tests --bin orchestrator --bin bench-instructions
    cp "$(bin "$profile" orchestrator)" "$STATE/orchestrator-$profile" && strip "$STATE/orchestrator-$profile"
    row=$(size_row "$STATE/orchestrator-$profile" "$profile")
    echo "${row% |} | $(instructions orchestrator 200 signal "$profile" | cut -d' ' -f1) |"
  done
  exit 0
fi

log "building release binaries (the functions as deployed, and the benchmark drivers)"
# The functions on their own, as `cargo lambda build` builds them: built beside the test crate, cargo would unify
# its features into them (the shipped candles compiled into the evaluator).
cargo build --release $(printf -- '-p %s ' "${FUNCTIONS[@]}") $(printf -- '--bin %s ' "${FUNCTIONS[@]}")
cargo build --release -p tests --bin bench-coldstart
cargo build --profile release-symbols -p tests --bin bench-instructions
release="$(dirname "$(bin release orchestrator)")"

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d); target x86_64, profile.release of Cargo.toml"
echo
echo "| function | bootstrap (MB) | zipped (MB) |"
echo "|---|---|---|"
for f in "${FUNCTIONS[@]}"; do size_row "$release/$f" "$f"; done

echo
echo "Instructions (callgrind, the counted region only; release settings with symbols):"
echo "  orchestrator: $(instructions orchestrator 200 "signal (claim, paper order, finalize; in-memory ports)" release-symbols)"
echo "  evaluator: $(instructions evaluator 20 "run of 100 symbols × 300 candles (indicators + rules)" release-symbols)"
echo "  diagnostics: $(instructions diagnostics 3 "report over 10,000 signals (evaluate + JSON)" release-symbols)"

emulator_up
trap 'if [ "$EMULATOR_STARTED" = 1 ]; then emulator_down; fi' EXIT
"$release/bench-coldstart" "$runs" "$release" "$PEER_VENV/bin/python" "$ROOT/bench/peer" ${ORCHESTRATOR_VARIANT:-}
