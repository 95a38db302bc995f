#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need (a virtualenv with
# aws-cli and boto3, see scripts/services.sh), then every test of every crate.
# Fails, never skips, when a needed service cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh setup
export SERVICES_VENV="$PWD/.venv-services"
cargo test --workspace --all-targets "$@"
