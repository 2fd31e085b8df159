#!/usr/bin/env bash
# The test suite, from a fresh machine: installs the real components the tests
# start on 127.0.0.1 (registry, git HTTP remote, ...) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo test --locked --all-targets "$@"
