#!/usr/bin/env bash
# Usage: scripts/scan-secrets.sh LOG SECRETS_DIR
# Fails when any secret recorded by the tests (tests/common/secrets.rs writes
# `label<TAB>form` lines into SECRETS_DIR/*.tsv: API keys, key material,
# plaintexts, SSE-C keys, as text, base64 and hex) occurs in LOG, the captured
# stdout+stderr of the test suite (test output and the servers' logs).
set -euo pipefail
log=$1
dir=$2
shopt -s nullglob
files=("$dir"/*.tsv)
if [ ${#files[@]} -eq 0 ]; then
    echo "scan-secrets: no secrets were recorded in $dir (KES_TEST_SECRETS_DIR not passed to the tests?)" >&2
    exit 1
fi
patterns=$(mktemp)
trap 'rm -f "$patterns"' EXIT
cut -f2- "${files[@]}" | sort -u >"$patterns"
count=$(wc -l <"$patterns")
if hits=$(grep -F -o -f "$patterns" "$log" | sort -u); then
    echo "scan-secrets: FAILED: $(wc -l <<<"$hits") recorded secret(s) appear in $log:" >&2
    # name the kind of secret, never the secret itself
    while IFS= read -r hit; do
        grep -h -F -- "$hit" "${files[@]}" | head -n1 | cut -f1 | sed 's/^/  /' >&2
    done <<<"$hits"
    exit 1
fi
echo "scan-secrets: $count recorded secret forms, none in $(wc -l <"$log") lines of test output"
