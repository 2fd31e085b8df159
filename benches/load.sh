#!/usr/bin/env bash
# 32 concurrent `gitops-bump run` processes pushing to one branch over smart
# HTTP, 3 rounds (tests/load): p50/p95 time to land, no lost update.
# usage: benches/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test load -- --ignored --nocapture 2>&1 | grep '^|'
