#!/usr/bin/env bash
# Builds the five Lambda artifacts the way `sam deploy` ships them: `sam build` with the rust-cargolambda build method
# (SAM CLI and cargo-lambda, with zig as the cross-linker, installed into .venv-tools), then prints each bootstrap's
# size and its zipped size.
#   ./scripts/build.sh                   # arm64 (the template's default Architecture); needs the aarch64 Rust target
#   ./scripts/build.sh --arch x86_64     # x86_64
set -euo pipefail
source "$(dirname "$0")/args.sh"
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

arch=arm64
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) [ $# -ge 2 ] || usage_error "--arch needs arm64 or x86_64"; arch="$2"; shift 2 ;;
    *) usage_error "unknown argument $1" ;;
  esac
done
case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu ;;
  x86_64) triple=x86_64-unknown-linux-gnu ;;
  *) usage_error "--arch is arm64 or x86_64" ;;
esac

ensure_deploy_tools
export PATH="$TOOLS_VENV/bin:$PATH"
if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
  log "adding the Rust target $triple (rustup)"
  rustup target add "$triple" || { log "the Rust target $triple is not installed and could not be added"; exit 1; }
fi

log "sam build ($arch, release, through cargo-lambda; the first build takes several minutes)"
SAM_CLI_TELEMETRY=0 sam build --beta-features --parameter-overrides "Architecture=$arch" >&2

python3 - "$arch" <<'PY'
import io, os, sys, zipfile
root = ".aws-sam/build"
print(f"{'function':<26} {'bootstrap':>12} {'zipped':>12}   ({sys.argv[1]})")
for name in sorted(os.listdir(root)):
    path = os.path.join(root, name, "bootstrap")
    if not os.path.isfile(path):
        continue
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    mb = lambda n: f"{n / 1e6:.1f} MB"
    print(f"{name:<26} {mb(os.path.getsize(path)):>12} {mb(len(buf.getvalue())):>12}")
PY
