#!/usr/bin/env bash
# cargo deny in CI (issue 16): advisories, licenses, bans (duplicate majors of crypto/TLS crates,
# OpenSSL), sources — configured in deny.toml. Installs the pinned cargo-deny with
# `cargo install --locked` when it is missing (a one-time build of a few minutes; later runs on
# the same machine reuse ~/.cargo/bin).
#
# The advisory database is a git repository that `cargo deny fetch` clones from GitHub. When it
# cannot be fetched (no network to GitHub, as on this project's machines, which reach only the
# package registries), the advisories check cannot run: this script says so loudly and runs the
# other three checks, which need only Cargo.lock and the crates' manifests (from the registry). With
# DENY_REQUIRE_ADVISORIES=1 a failed fetch fails the script instead.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${CARGO_DENY_VERSION:-0.20.2}
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $VERSION"; then
    echo "deny: installing cargo-deny $VERSION"
    ${DENY_NICE:-} cargo install cargo-deny --locked --version "$VERSION"
fi
fetch_log=$(mktemp)
trap 'rm -f "$fetch_log"' EXIT
if cargo deny fetch db 2>"$fetch_log"; then
    cargo deny --locked check advisories licenses bans sources
else
    echo "deny: ADVISORIES NOT CHECKED: the advisory database could not be fetched:"
    tail -3 "$fetch_log" | sed 's/^/    /'
    if [ "${DENY_REQUIRE_ADVISORIES:-0}" = 1 ]; then exit 1; fi
    cargo deny --locked check licenses bans sources
fi
