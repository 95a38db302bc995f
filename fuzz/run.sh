#!/usr/bin/env bash
# Builds every fuzz target and runs each for a bounded time; exits non-zero on any crash,
# leak, timeout or out-of-memory (libFuzzer's own exit codes), or if a target fails to build.
#
#   fuzz/run.sh [seconds-per-target] [target...]     (default 30 s, every target)
#
# Coverage-guided libFuzzer (libfuzzer-sys) on stable Rust: SanitizerCoverage is enabled with
# stable `-C` codegen flags, only for the crates under test (profile rustflags in
# fuzz/Cargo.toml). Cargo's `profile-rustflags` is unstable, so cargo alone (not rustc) is
# told it is on the nightly channel; RUSTC_BOOTSTRAP=1 would work too but makes build scripts
# that watch it (proc-macro2) rebuild the whole shared target/.
#
# Inputs found are kept in fuzz/corpus-run/<target>/ (not committed); crash inputs are
# written to fuzz/artifacts/<target>/ and printed. Figures: one line per target with
# executions and final coverage.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-30}
shift || true
ALL=(stored_key kes_ciphertext apikey policy_path config_yaml dare object_meta sse_headers kms_context)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$(cd .. && pwd)/target}
export __CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS=nightly
NICE=${FUZZ_NICE:-nice -n 19}

$NICE cargo build --bins --locked
BIN=$CARGO_TARGET_DIR/debug

failed=()
summary=()
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus-run/$t" "artifacts/$t" "corpus/$t"
    log=$(mktemp)
    echo "== $t: ${SECS}s"
    set +e
    $NICE "$BIN/$t" "corpus-run/$t" "corpus/$t" \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    summary+=("$(printf '%-16s rc=%-3s execs=%-10s cov=%s' "$t" "$rc" "${execs:-?}" "${cov:-?}")")
    if [ "$rc" -ne 0 ]; then
        failed+=("$t")
        tail -40 "$log"
        ls -1 "artifacts/$t" | sed "s|^|   crash input: fuzz/artifacts/$t/|"
    fi
    rm -f "$log"
done

printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}"
    exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, no crash"
