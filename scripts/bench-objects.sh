#!/usr/bin/env bash
# Object-server throughput benchmark: builds the release `kes`, `object-server` and the
# `sse_bench` driver, then runs the driver on CPU 1 against the object server pinned to CPU 0
# (and `kes server` on CPU 1), and prints a markdown table (also written to
# target/bench/objects.md): PUT and GET of 4 KiB, 1 MiB and 64 MiB objects, plain vs SSE-C vs
# SSE-S3 vs SSE-KMS, MiB/s, ops/s and the server's CPU per op and per byte.
#
#   scripts/bench-objects.sh                   # c = 1 and 8, 3 s per row, data on disk
#   BENCH_SECS=5 BENCH_CONNS=1 scripts/bench-objects.sh
#   BENCH_TMPFS=1 scripts/bench-objects.sh     # data dir on /dev/shm (no disk in the way)
#   scripts/bench-objects.sh --sizes 4096 --modes plain,sse-c   # extra args go to the driver
#
# Every PUT is fsynced; on tmpfs the fsync is free, so BENCH_TMPFS=1 shows the CPU cost alone.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${BENCH_SECS:-3}"
conns="${BENCH_CONNS:-1,8}"
cargo build --release -p kes --bin kes -p object-server --bin object-server --example sse_bench >&2
args=(--server-cpu 0 --kes-cpu 1 -c "$conns" --secs "$secs")
data=""
if [[ "${BENCH_TMPFS:-0}" == 1 ]]; then
    data="$(mktemp -d /dev/shm/bench-objects.XXXXXX)"
    trap 'rm -rf "$data"' EXIT
    args+=(--data-dir "$data/data")
fi
mkdir -p target/bench
{
    echo "object-server $(git rev-parse --short HEAD), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)), data dir: ${data:-temp dir on $(df --output=fstype "${TMPDIR:-/tmp}" | tail -1)}, ${secs} s per row"
    echo
    taskset -c 1 target/release/examples/sse_bench "${args[@]}" "$@"
} | tee target/bench/objects.md
