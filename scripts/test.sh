#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need (a virtualenv with
# aws-cli, boto3, moto and OpenBao, see scripts/services.sh), then every test of
# every crate. The OpenBao and moto tests start their own servers from that virtualenv
# (SERVICES_VENV); with CI set they fail, never skip, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh setup
export SERVICES_VENV="$PWD/.venv-services"

# Secrets scan (SECURITY.md): the tests record the secrets they create in
# KES_TEST_SECRETS_DIR; every test's output is shown (RUST_TEST_NOCAPTURE) and,
# with the servers' logs the tests pass through, teed to a log file; the scan
# then fails on any recorded secret found in it. KES_TEST_LOG keeps the log.
export KES_TEST_SECRETS_DIR="$(mktemp -d)"
export RUST_TEST_NOCAPTURE=1
log="${KES_TEST_LOG:-$KES_TEST_SECRETS_DIR/test-output.log}"
cargo test --workspace --all-targets "$@" 2>&1 | tee "$log"
scripts/scan-secrets.sh "$log" "$KES_TEST_SECRETS_DIR"
