# Shared by the scripts: environment of every local run, the project-local Python tools, and the emulator's
# lifecycle. Source it; do not run it.


ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.local"          # runtime state: emulator PID and log (git-ignored)
VENV="$ROOT/.venv"            # project-local Python tools: the AWS emulator and cfn-lint (git-ignored)
MOTO_VERSION="5.2.5"
CFN_LINT_VERSION="1.58.0"
CHECK_JSONSCHEMA_VERSION="0.38.1"
SCHEMATHESIS_VERSION="4.32.5"
mkdir -p "$STATE"

# Every local run talks to the emulator on loopback only, through the SDK's standard endpoint variable.
export EMULATOR_PORT="${EMULATOR_PORT:-4566}"
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}"
export AWS_REGION="${AWS_REGION:-eu-west-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID="local" AWS_SECRET_ACCESS_KEY="local"
export AWS_EC2_METADATA_DISABLED=true
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
# The paper exchange's USD prices of the quote currencies of the shipped candles (BTC-, ETH-quoted pairs), at about
# their level on the candles' dates (January 2018 and October 2019): paper orders are sized in the quote currency.
export PAPER_USD_PRICES="${PAPER_USD_PRICES:-BTC=12000,ETH=180}"
# The local Telegram sink stands in for the Bot API.
export TELEGRAM_SINK_PORT="${TELEGRAM_SINK_PORT:-4588}"
export TELEGRAM_API_BASE_URL="http://127.0.0.1:${TELEGRAM_SINK_PORT}"

# Where cargo puts binaries: CARGO_TARGET_DIR, a config's build.target-dir, or ./target — as cargo itself resolves it.
target_dir() {
  (cd "$ROOT" && cargo metadata --no-deps --format-version 1 \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
}
# The path of a built binary of the workspace: bin PROFILE NAME (PROFILE: debug or release).
bin() { printf '%s/%s/%s' "${TARGET_DIR:=$(target_dir)}" "$1" "$2"; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The Python peer of the orchestrator's packages (bench/peer/requirements.txt) in .venv-bench: for the benches.
PEER_VENV="$ROOT/.venv-bench"
ensure_peer_venv() {
  if ! "$PEER_VENV/bin/python" -c "import awslambdaric, aws_lambda_powertools, boto3" 2>/dev/null; then
    log "installing the Python peer's packages into .venv-bench (once)"
    python3 -m venv "$PEER_VENV"
    "$PEER_VENV/bin/pip" install -q -r "$ROOT/bench/peer/requirements.txt"
  fi
}

# Installs the emulator, cfn-lint, check-jsonschema (the GitHub workflows' schema) and schemathesis (the API fuzzed
# from its OpenAPI document) into .venv when missing or at another version.
ensure_python_tools() {
  if [ -x "$VENV/bin/moto_server" ] && [ -x "$VENV/bin/cfn-lint" ] \
     && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(not (m.version('moto') == '$MOTO_VERSION' and m.version('cfn-lint') == '$CFN_LINT_VERSION' and m.version('check-jsonschema') == '$CHECK_JSONSCHEMA_VERSION' and m.version('schemathesis') == '$SCHEMATHESIS_VERSION'))" 2>/dev/null; then
    return
  fi
  log "installing the AWS emulator (moto $MOTO_VERSION), cfn-lint, check-jsonschema and schemathesis into .venv (once, ~30 s)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
    "cfn-lint==$CFN_LINT_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "schemathesis==$SCHEMATHESIS_VERSION" >&2
}

# Debian's chromium, headless, for the operator page's browser test (tests/tests/integration/diagnostics_api.rs).
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return
  log "installing Debian's chromium (once, ~1 min; the operator page's browser test renders with it)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  { $sudo apt-get install -y --no-install-recommends chromium \
      || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends chromium; }; } >&2
}

# The deployment tools, in their own venv (SAM pins another boto3 than the emulator): SAM CLI, cargo-lambda with zig
# (the cross-linker it uses) and cfn-lint's serverless rules.
TOOLS_VENV="$ROOT/.venv-tools"
DEPLOY_TOOLS=(aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.1 cfn-lint==1.58.0 cfn-lint-serverless==0.3.6)
ensure_deploy_tools() {
  local stamp="$TOOLS_VENV/.installed"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${DEPLOY_TOOLS[*]}" ]; then
    return
  fi
  log "installing SAM CLI, cargo-lambda, zig and cfn-lint-serverless into .venv-tools (once, ~40 s)"
  [ -x "$TOOLS_VENV/bin/python" ] || python3 -m venv "$TOOLS_VENV"
  "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check "${DEPLOY_TOOLS[@]}" >&2
  printf '%s' "${DEPLOY_TOOLS[*]}" >"$stamp"
}

emulator_answers() { curl -fsS -o /dev/null --max-time 2 "$AWS_ENDPOINT_URL/moto-api/" 2>/dev/null; }

# Starts the emulator on 127.0.0.1:$EMULATOR_PORT unless one already answers there. Sets EMULATOR_STARTED=1 when
# this call started it (so the caller knows to stop it).
EMULATOR_STARTED=0
emulator_up() {
  local pidfile="$STATE/emulator-$EMULATOR_PORT.pid"
  if emulator_answers; then
    log "emulator already answering at $AWS_ENDPOINT_URL"
    return
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$EMULATOR_PORT") 2>/dev/null; then
    log "port $EMULATOR_PORT is taken by another service that is not the AWS emulator (moto): stop it, or choose a free port with EMULATOR_PORT=<port>"
    return 1
  fi
  log "starting the AWS emulator (DynamoDB, SQS, Secrets Manager, CloudWatch) at $AWS_ENDPOINT_URL"
  # moto behind one lock, so that each request is atomic as in DynamoDB (scripts/emulator.py says why)
  nohup "$VENV/bin/python" "$ROOT/scripts/emulator.py" 127.0.0.1 "$EMULATOR_PORT" >"$STATE/emulator-$EMULATOR_PORT.log" 2>&1 &
  echo $! >"$pidfile"
  EMULATOR_STARTED=1
  for _ in $(seq 1 100); do
    emulator_answers && return
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$STATE/emulator-$EMULATOR_PORT.log" >&2; log "emulator exited"; return 1; }
    sleep 0.2
  done
  log "emulator did not answer within 20 s (log: $STATE/emulator-$EMULATOR_PORT.log)"
  return 1
}

# Stops the emulator recorded for this port, if any.
emulator_down() {
  local pidfile="$STATE/emulator-$EMULATOR_PORT.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "emulator stopped (pid $pid)"
  fi
  rm -f "$pidfile"
}

emulator_reset() { curl -fsS -o /dev/null -X POST "$AWS_ENDPOINT_URL/moto-api/reset"; }

# Starts the local Telegram sink (built by cargo beforehand) unless one answers; SINK_STARTED=1 when this call did.
SINK_STARTED=0
sink_up() {
  local pidfile="$STATE/telegram-sink-$TELEGRAM_SINK_PORT.pid"
  if curl -fsS -o /dev/null --max-time 2 "$TELEGRAM_API_BASE_URL/messages" 2>/dev/null; then
    log "telegram sink already answering at $TELEGRAM_API_BASE_URL"
    return
  fi
  : >"$STATE/telegram-sink.jsonl"
  nohup "$(bin debug telegram-sink)" "127.0.0.1:$TELEGRAM_SINK_PORT" "$STATE/telegram-sink.jsonl" \
    >"$STATE/telegram-sink.log" 2>&1 &
  echo $! >"$pidfile"
  SINK_STARTED=1
  for _ in $(seq 1 50); do
    curl -fsS -o /dev/null --max-time 1 "$TELEGRAM_API_BASE_URL/messages" 2>/dev/null && { log "telegram sink at $TELEGRAM_API_BASE_URL (messages: $STATE/telegram-sink.jsonl)"; return; }
    sleep 0.1
  done
  log "telegram sink did not start (log: $STATE/telegram-sink.log)"
  return 1
}

sink_down() {
  local pidfile="$STATE/telegram-sink-$TELEGRAM_SINK_PORT.pid"
  [ -f "$pidfile" ] || return 0
  kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

# Serves the diagnostics handler on 127.0.0.1:$DIAGNOSTICS_PORT (needs the stack bootstrapped); prints API_URL= and
# DIAGNOSTICS_KEY= (the key given as $1, as the bootstrap printed it) on lines of their own (stdout).
export DIAGNOSTICS_PORT="${DIAGNOSTICS_PORT:-4590}"
api_up() {
  local pidfile="$STATE/diagnostics-$DIAGNOSTICS_PORT.pid" url="http://127.0.0.1:$DIAGNOSTICS_PORT"
  if ! curl -s -o /dev/null --max-time 2 "$url/" 2>/dev/null; then
    nohup "$(bin debug diagnostics-server)" "127.0.0.1:$DIAGNOSTICS_PORT" >"$STATE/diagnostics.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 50); do curl -s -o /dev/null --max-time 1 "$url/" 2>/dev/null && break; sleep 0.1; done
  fi
  log "diagnostics API at $url/api/diagnostics/recent-signals (stop everything: ./scripts/local.sh down)"
  echo "API_URL=$url"
  echo "DIAGNOSTICS_KEY=$1"
}

api_down() {
  local pidfile="$STATE/diagnostics-$DIAGNOSTICS_PORT.pid"
  [ -f "$pidfile" ] || return 0
  kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}
