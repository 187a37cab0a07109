#!/usr/bin/env bash
# Every check of the project: formatting, clippy (warnings are errors), all tests — unit, adapter and integration
# against the AWS emulator, which this script starts on 127.0.0.1 and stops again — and cfn-lint on template.yaml.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export EMULATOR_PORT="${TEST_EMULATOR_PORT:-4577}"   # its own emulator, apart from a running demo
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}"

ensure_python_tools
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
emulator_up
trap 'if [ "$EMULATOR_STARTED" = 1 ]; then emulator_down; fi' EXIT
log "cargo test --workspace (unit, adapter, integration against $AWS_ENDPOINT_URL)"
cargo test --workspace
log "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml
log "all checks passed"
