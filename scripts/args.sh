# Sourced first by every script, before anything is installed or built: `-h`/`--help` prints the script's header
# comment (its usage) and exits 0; `usage_error MESSAGE` prints the message and the usage and exits 2.
script_usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
usage_error() {
  echo "$(basename "$0"): $1" >&2
  script_usage >&2
  exit 2
}
case "${1:-}" in
  -h|--help) script_usage; exit 0 ;;
esac
