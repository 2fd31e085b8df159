#!/usr/bin/env bash
# The test suite, from a fresh machine: installs the real components the tests
# start on 127.0.0.1 (registry, git HTTP remote, ...) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo test --locked --all-targets "$@"
# The load suite (32 concurrent runs x 3 rounds through the HTTP remote) is
# #[ignore]d in plain `cargo test` for quick local runs; CI runs it here.
cargo test --locked --test load -- --ignored
