#!/usr/bin/env bash
# Peak RSS (/usr/bin/time -v) against hostile inputs, each with a baseline
# measured in the same run, and a stated limit:
#
# 1. alias amplification: a ~10 MiB YAML file with ~2.6 M aliases of one
#    1 KiB double-quoted scalar, edited with `set-image --check`, against the
#    same-size file with the same number of plain two-letter scalars.
#    Limit: at most 2x the baseline (memory grows with the input's size, not
#    with aliases x scalar length; before the fix, when each alias cloned the
#    scalar, this case took 3.1 GB peak RSS, against 229 MB after, both
#    measured with debug builds of 8a06652 and of the fix).
# 2. response bodies: `resolve` against a registry that streams a 1 GiB
#    manifest, and against one whose token service streams a 1 GiB token,
#    against `resolve` of a small manifest from the same kind of server.
#    Limit: baseline + 16 MiB (the registry body cap is 4 MiB).
#
# usage: benches/hostile_memory.sh      (prints markdown table rows)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
bin=${GITOPS_BUMP_BIN:-$repo/target/release/gitops-bump}
if [[ ! -x $bin ]]; then
  (cd "$repo" && cargo build --release --bin gitops-bump)
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; wait "$p" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Peak RSS in kB of "$@" (its exit code is ignored: refusals exit 1).
rss() {
  /usr/bin/time -v "$@" > /dev/null 2> "$work/time.txt" || true
  awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt"
}

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

# --- 1. alias amplification
python3 - "$work" << 'PY'
import sys
work = sys.argv[1]
limit = 10 * 1024 * 1024 - 4096           # under the 10 MiB file limit
scalar = "\\x41" + "a" * 1016             # 1 KiB, decoded (escape => owned text)
head = f'# app\nanchor: &a "{scalar}"\nlist: ['
n = (limit - len(head) - 2) // 4
open(f"{work}/aliases.yaml", "w").write(head + "*a, " * n + "]\n")
open(f"{work}/plain.yaml", "w").write(f'# app\nanchor: &a "{scalar}"\nlist: [' + "xy, " * n + "]\n")
print(n, file=open(f"{work}/aliases.count", "w"))
PY
aliases=$(cat "$work/aliases.count")
edit() { echo "$bin set-image --check --allow-no-match --root $work --file $1 ghcr.io/org/app:v2"; }
alias_rss=$(rss $(edit aliases.yaml))
plain_rss=$(rss $(edit plain.yaml))
ratio=$(awk -v a="$alias_rss" -v b="$plain_rss" 'BEGIN { printf "%.2f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 2 ? "within" : "OVER") }')
echo "alias file: $(mb "$alias_rss"), plain file: $(mb "$plain_rss"), ratio ${ratio}x ($verdict the 2x limit)" >&2
millions=$(awk -v n="$aliases" 'BEGIN { printf "%.1f M", n / 1e6 }')
echo "| alias amplification: $millions aliases of a 1 KiB scalar in a 10 MiB file (\`set-image --check\`) | $(mb "$alias_rss") peak RSS | $(mb "$plain_rss") (same size, plain scalars) | ${ratio}x | limit 2x: $verdict |"

# --- 2. response bodies
start() { # NAME ARGS... -> sets $port
  python3 "$repo/tests/boundaries/hostile.py" "${@:2}" > "$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 500); do
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/$1.log")
    [[ -n $port ]] && return 0
    sleep 0.01
  done
  echo "$1 did not start" >&2
  exit 1
}
start small --bad-config-digest; small=$port
start manifest --big-manifest 1G; manifest=$port
start tokenbody --big-all 1G; tokenbody=$port
start realm --realm "http://127.0.0.1:$tokenbody/token"; realm=$port
resolve() { echo "$bin resolve --insecure-registry 127.0.0.1:$1 --insecure-registry 127.0.0.1:$tokenbody 127.0.0.1:$1/team/app:v1"; }
$(resolve "$small") > /dev/null || { echo "baseline resolve failed" >&2; exit 1; }
small_rss=$(rss $(resolve "$small"))
for case in manifest realm; do
  port=${!case}
  set +e
  out=$($(resolve "$port") 2>&1)
  set -e
  grep -q "sent more than 4 MiB" <<< "$out" || { echo "$case: not refused at the cap: $out" >&2; exit 1; }
  got=$(rss $(resolve "$port"))
  extra=$(( got - small_rss ))
  verdict=$(awk -v e="$extra" 'BEGIN { print (e <= 16384 ? "within" : "OVER") }')
  what=$([[ $case == manifest ]] && echo "a 1 GiB manifest" || echo "a 1 GiB token response")
  echo "$what: $(mb "$got") vs $(mb "$small_rss") baseline (+$(mb "$extra"), $verdict the +16 MB limit)" >&2
  ratio=$(awk -v a="$got" -v b="$small_rss" 'BEGIN { printf "%.2f", a / b }')
  echo "| body cap: \`resolve\` against $what (refused at 4 MiB) | $(mb "$got") peak RSS | $(mb "$small_rss") (\`resolve\` of a small manifest) | ${ratio}x | limit baseline + 16 MB: $verdict |"
done
