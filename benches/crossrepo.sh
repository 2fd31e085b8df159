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
# The test prints a 3-column table; pair each measurement with its
# baseline into the 5-column rows of BENCHMARKS.md.
cargo test "${profile[@]}" --test crossrepo bench_api_write_back_against_git_push \
  -- --ignored --nocapture --test-threads=1 2>&1 | grep '^|' | python3 -c '
import re, sys
rows = {}
for line in sys.stdin:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 3 and not cells[0].startswith(("measurement", "---")):
        rows[cells[0]] = cells[1:]
def secs(v):
    m = re.match(r"([0-9.]+)(ms|s|µs)", v)
    return float(m.group(1)) * {"ms": 1e-3, "s": 1.0, "µs": 1e-6}[m.group(2)]
pairs = [
    ("API write-back (ref + tree + blobs + createCommitOnBranch)", "baseline: git clone --depth 1 + commit + push (file://)", "`git clone --depth 1` + commit + push"),
    ("8 API bumpers concurrently", "baseline: 8 API bumpers in sequence", "the same 8 in sequence"),
]
for ours, base, label in pairs:
    if ours in rows and base in rows:
        o, b = secs(rows[ours][0]), secs(rows[base][0])
        print(f"| {ours} | {o*1000:.0f} ms | {b*1000:.0f} ms ({label}) | {o/b:.2f}x | {rows[ours][1]} |")
'

