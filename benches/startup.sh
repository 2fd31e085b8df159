#!/usr/bin/env bash
# Startup: `gitops-bump --version` against `git --version` (a small C
# binary every runner has), same run, same machine. Prints a table row.
set -euo pipefail
BIN="${GITOPS_BUMP_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/gitops-bump}"
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
out="$(mktemp)"
hyperfine -N --warmup 10 --runs 200 --export-json "$out" "$BIN --version" "git --version" >/dev/null 2>&1
read -r ours base < <(python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))["results"]
print(r[0]["mean"]*1000, r[1]["mean"]*1000)' "$out")
rss="$( { /usr/bin/time -f '%M' "$BIN" --version >/dev/null; } 2>&1 | tail -1)"
size="$(stat -c %s "$BIN")"
printf '| startup (`--version`) | %.2f ms | %.2f ms (`git --version`) | %.2fx | %s KB peak RSS, binary %s KB |\n' \
  "$ours" "$base" "$(python3 -c "print($ours/$base)")" "$rss" "$((size / 1024))"
rm -f "$out"
