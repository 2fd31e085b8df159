#!/usr/bin/env bash
# API write-back (commit-via: api) against its baseline, a shallow clone +
# commit + push of the same change with the git CLI, on the same local bare
# repository in the same run; and 8 concurrent API bumpers against the same
# 8 run one after another. Needs python3, git, openssl.
# usage: benches/crossrepo.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
if [[ "${1:-}" == "--debug" ]]; then profile=(); fi
cargo test "${profile[@]}" --test crossrepo bench_api_write_back_against_git_push \
  -- --ignored --nocapture --test-threads=1 2>&1 | grep '^|'
