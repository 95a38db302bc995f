#!/usr/bin/env bash
# KES benchmark suite of record (issue 15): builds release `kes` and `kes-load`, starts
# `kes server` (fs keystore in a temp dir, audit log on, metrics served, a policy identity)
# pinned to CPU 0, drives it with `kes-load` pinned to CPU 1 and writes a markdown table
# to stdout and target/bench/results.md (raw JSON lines: target/bench/runs.jsonl).
#
#   scripts/bench.sh            # full matrix, BENCH_SECS (5) per row
#   scripts/bench.sh --quick    # 1 s smoke variant (1,000 instead of 100,000 extra keys)
#
# Environment: BENCH_SECS (seconds per row), BENCH_WARMUP (Go duration, default 1s),
# BENCH_STARTS (start-up runs, median reported), BENCH_EXTRA_KEYS (default 100000),
# BENCH_POLICIES (default 1000), BENCH_INSTR=1 (server instructions per request with
# `perf stat -p`; needs linux-perf), BENCH_PROFILE (cargo profile, default release; `dev`
# only to check the script itself: debug figures mean nothing), BENCH_BUILD=0 (use the
# binaries already built).
#
# Rows: {h2, http1} × {generate, decrypt} × c ∈ {1, 8, 64} on keep-alive connections;
# a new TLS connection per request (HTTP/1.1 and h2, with and without session resumption);
# h2 generate/decrypt c=8 with BENCH_EXTRA_KEYS keys in the keystore and with
# BENCH_POLICIES policies in the config (compare with the 1-key, 1-policy rows);
# start-up to the first answered request, and RSS (idle after start, peak under c=64).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
if ((quick)); then
    secs=${BENCH_SECS:-1} warmup=${BENCH_WARMUP:-200ms} starts=${BENCH_STARTS:-3}
    extra=${BENCH_EXTRA_KEYS:-1000} npolicies=${BENCH_POLICIES:-1000}
else
    secs=${BENCH_SECS:-5} warmup=${BENCH_WARMUP:-1s} starts=${BENCH_STARTS:-11}
    extra=${BENCH_EXTRA_KEYS:-100000} npolicies=${BENCH_POLICIES:-1000}
fi

profile=${BENCH_PROFILE:-release}
if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
    nice -n 10 cargo build --profile "$profile" --bin kes --bin kes-load >&2
fi
bindir=$root/target/$([[ $profile == dev ]] && echo debug || echo "$profile")
kes=$bindir/kes
load=$bindir/kes-load
out=$root/target/bench
mkdir -p "$out"
runs=$out/runs.jsonl
: >"$runs"

work=$(mktemp -d)
server_pid=
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap 'stop_server; rm -rf "$work"' EXIT

# Pinning: the server on CPU 0 (real-time priority if permitted), kes-load on CPU 1.
server_pin=() load_pin=()
if taskset -c 0 true 2>/dev/null && taskset -c 1 true 2>/dev/null; then
    server_pin=(taskset -c 0) load_pin=(taskset -c 1)
fi
if chrt -f 1 true 2>/dev/null; then
    server_pin+=(chrt -f 1)
fi
perf_flag=()
if [[ "${BENCH_INSTR:-0}" == 1 ]]; then
    # perf exits 0 but prints "<not supported>" where there is no PMU (many VMs).
    if ! perf stat -x , -e instructions true 2>&1 >/dev/null | grep -q '^[0-9]'; then
        echo "BENCH_INSTR=1: 'perf stat -e instructions' counts nothing here (no PMU?)" >&2
        exit 1
    fi
    perf_flag=(--perf)
fi

# A free loopback port (bound by the kernel, then released for the server).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server=https://127.0.0.1:$port

# Server certificate and the client's API key (its identity gets the bench policy).
"$kes" identity new --key "$work/server.key" --cert "$work/server.crt" \
    --ip 127.0.0.1 --dns localhost --expiry 24h bench-server >/dev/null
ident_json=$("$kes" identity new --json)
api_key=$(jq -r .api_key <<<"$ident_json")
identity=$(jq -r .identity <<<"$ident_json")
export KES_API_KEY=$api_key
mkdir -p "$work/keys"

# Writes a config with the bench policy and $1 - 1 other policies (other identities).
write_config() {
    local n=$1 path=$2 i
    {
        cat <<YAML
version: v1
address: 127.0.0.1:$port
admin:
  identity: disabled
tls:
  key: $work/server.key
  cert: $work/server.crt
log:
  error: on
  audit: on
keystore:
  fs:
    path: $work/keys
policy:
  bench:
    allow:
    - /v1/key/create/*
    - /v1/key/generate/*
    - /v1/key/decrypt/*
    - /v1/key/delete/*
    - /v1/status
    identities:
    - $identity
YAML
        for ((i = 1; i < n; i++)); do
            printf '  other-%04d:\n    allow:\n    - /v1/key/generate/other-%d-*\n    - /v1/key/decrypt/other-%d-*\n    - /v1/status\n    deny:\n    - /v1/key/delete/*\n    identities:\n    - "%064x"\n' \
                "$i" "$i" "$i" "$i"
        done
    } >"$path"
}
write_config 1 "$work/config.yaml"
write_config "$npolicies" "$work/config-policies.yaml"

start_server() {
    # The audit log (stdout) is written and discarded: the cost of writing it is measured.
    "${server_pin[@]}" "$kes" server --config "$1" >/dev/null 2>"$work/server.err" &
    server_pid=$!
}

# kes-load pinned to CPU 1 against the running server; appends one JSON line.
run() {
    local label=$1
    shift
    "${load_pin[@]}" "$load" --server "$server" --ca "$work/server.crt" --name bench \
        --wait 10s --warmup "$warmup" -d "${secs}s" --server-pid "$server_pid" \
        "${perf_flag[@]}" --json --label "$label" "$@" | tee -a "$runs" >&2 || {
        echo "kes-load failed; server log:" >&2
        cat "$work/server.err" >&2
        exit 1
    }
}

echo "== start-up ($starts runs)" >&2
"${load_pin[@]}" "$load" startup --server "$server" --ca "$work/server.crt" --runs "$starts" --json \
    -- "${server_pin[@]}" "$kes" server --config "$work/config.yaml" | tee -a "$runs" >&2

echo "== keep-alive matrix, ${secs}s per row" >&2
start_server "$work/config.yaml"
for proto in h2 http1; do
    flag=()
    [[ $proto == http1 ]] && flag=(--http1)
    for op in generate decrypt; do
        for c in 1 8 64; do
            run "$proto $op c=$c" "${flag[@]}" --op "$op" -c "$c"
        done
    done
done

echo "== new connection per request" >&2
for proto in http1 h2; do
    flag=()
    [[ $proto == http1 ]] && flag=(--http1)
    run "$proto generate c=1, new TLS conn, full handshake" "${flag[@]}" --op generate -c 1 --new-conn --no-resume
    run "$proto generate c=1, new TLS conn, resumed" "${flag[@]}" --op generate -c 1 --new-conn
done
stop_server

echo "== $extra keys in the keystore" >&2
# Copies of the bench key's file under other names (the fs keystore: one file per key),
# much faster than creating them through the API.
seq -f "$work/keys/fill-%07g" 1 "$extra" |
    xargs -n 2000 sh -c 'tee "$@" <"$0" >/dev/null' "$work/keys/bench"
start_server "$work/config.yaml"
for op in generate decrypt; do
    run "h2 $op c=8, $extra keys" --op "$op" -c 8
done
stop_server

echo "== $npolicies policies" >&2
start_server "$work/config-policies.yaml"
for op in generate decrypt; do
    run "h2 $op c=8, $npolicies policies" --op "$op" -c 8
done
stop_server

{
    echo "kes-load $(date -u +%Y-%m-%dT%H:%MZ), $profile build, ${secs}s per row after ${warmup} warm-up;" \
        "server pinned: ${server_pin[*]:-no}; load pinned: ${load_pin[*]:-no};" \
        "$(nproc) CPUs, $(uname -r)"
    echo
    "$load" table <"$runs"
} | tee "$out/results.md"
