#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need (a virtualenv with
# aws-cli, boto3, moto and OpenBao, see scripts/services.sh), then every test of
# every crate. The OpenBao and moto tests start their own servers from that virtualenv
# (SERVICES_VENV); with CI set they fail, never skip, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh setup
export SERVICES_VENV="$PWD/.venv-services"
cargo test --workspace --all-targets "$@"
