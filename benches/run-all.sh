#!/usr/bin/env bash
# Runs every benchmark with its baseline in the same run and writes
# BENCHMARKS.md: one table row per benchmark (ours, baseline, ratio, memory).
# Each benches/<name>.sh prints its rows as markdown table lines on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/install-test-deps.sh
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --locked --quiet
export GITOPS_BUMP_BIN="$ROOT/target/release/gitops-bump"
rows="$(mktemp)"
for bench in benches/*.sh; do
  [ "$(basename "$bench")" = run-all.sh ] && continue
  echo "== $bench" >&2
  if ! bash "$bench" | grep '^|' >> "$rows"; then
    echo "| $(basename "$bench" .sh) | failed | | | |" >> "$rows"
  fi
done
{
  echo "# Benchmarks"
  echo
  echo "Written by \`benches/run-all.sh\` on $(date -u +%Y-%m-%d): $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB,"
  echo "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -sr). Every baseline ran in the same run."
  echo
  echo "| benchmark | ours | baseline | ratio (ours/baseline) | memory / notes |"
  echo "|---|---|---|---|---|"
  cat "$rows"
} > BENCHMARKS.md
cat BENCHMARKS.md
rm -f "$rows"
