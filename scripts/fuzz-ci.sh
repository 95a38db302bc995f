#!/usr/bin/env bash
# The bounded fuzz step of CI (issue 16): builds the fuzz targets (fuzz/, its own cargo
# workspace, --locked against the committed fuzz/Cargo.lock, into the main target/ so the
# dependencies the test suite built are reused), then runs every target from its committed
# seed corpus for an equal share of what is left of the budget, at most FUZZ_SECS each.
# Fails if a target does not build, crashes, times out on one input or runs out of memory.
#
#   scripts/fuzz-ci.sh              # budget FUZZ_BUDGET=540 s for the whole step, build included
#   FUZZ_SECS=600 scripts/fuzz-ci.sh   # the long documented run (no budget cap then: FUZZ_BUDGET=0)
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${FUZZ_BUDGET:-540}
MAX=${FUZZ_SECS:-30}
NTARGETS=$(grep -c '^\[\[bin\]\]' fuzz/Cargo.toml)

start=$(date +%s)
(
    cd fuzz
    export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$(cd .. && pwd)/target}
    # Cargo's profile-rustflags is unstable; see fuzz/README.md for why this and not RUSTC_BOOTSTRAP.
    export __CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS=nightly
    ${FUZZ_NICE:-nice -n 10} cargo build --bins --locked
)
built=$(date +%s)
secs=$MAX
if [ "$BUDGET" -gt 0 ]; then
    # What the build left, minus 10 s per target for start-up, corpus loading and reports.
    share=$(((BUDGET - (built - start)) / NTARGETS - 10))
    if [ "$share" -lt "$secs" ]; then secs=$share; fi
    if [ "$secs" -lt 5 ]; then
        echo "fuzz-ci: the build took $((built - start)) s of the ${BUDGET} s budget; running 5 s per target"
        secs=5
    fi
fi
echo "fuzz-ci: build $((built - start)) s; ${secs} s per target, ${NTARGETS} targets"
FUZZ_NICE=${FUZZ_NICE:-nice -n 10} fuzz/run.sh "$secs"
echo "fuzz-ci: total $(($(date +%s) - start)) s"
