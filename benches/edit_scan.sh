#!/usr/bin/env bash
# Scans a generated GitOps tree of 5,000 YAML files (~50 MB, the image in
# ~1% of them) with `gitops-bump set-image --check`, against the baseline
# `grep -rl NAME` over the same tree in the same run, and reports our peak
# RSS. Goal: within 2x of grep, under 50 MB RSS.
#
# usage: benches/edit_scan.sh [FILES] [TOTAL_MB]
set -euo pipefail

files=${1:-5000}
total_mb=${2:-50}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
bin=${GITOPS_BUMP_BIN:-$repo/target/release/gitops-bump}
image=ghcr.io/acme/target-app

if [[ ! -x $bin ]]; then
  (cd "$repo" && cargo build --release --bin gitops-bump)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/gen_gitops_tree.py" "$work/tree" "$files" "$total_mb" "$image" 1

# Paths are relative to the current directory; --root only confines them.
ours="$bin set-image --check --root $work/tree --dir $work/tree $image:v2"
baseline="grep -rl target-app $work/tree"

# Sanity: both find the same files, and ours reports drift (exit 3).
set +e
$ours > "$work/ours.txt"; code=$?
set -e
[[ $code == 3 ]] || { echo "expected exit 3 (drift), got $code" >&2; exit 1; }
ours_files=$(cut -d: -f1 "$work/ours.txt" | sort -u | wc -l)
grep_files=$($baseline | wc -l)
echo "files with the image: gitops-bump $ours_files, grep $grep_files"
[[ $ours_files == "$grep_files" ]] || { echo "file counts differ" >&2; exit 1; }

if command -v hyperfine > /dev/null; then
  hyperfine --warmup 2 --runs 10 -i --export-json "$work/h.json" \
    -n grep "$baseline" -n gitops-bump "$ours"
  python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
g, o = r["grep"]["mean"], r["gitops-bump"]["mean"]
print(f"grep {g*1000:.1f} ms, gitops-bump {o*1000:.1f} ms, ratio {o/g:.2f}x (goal <= 2x)")
open(sys.argv[1] + ".row", "w").write(f"{o*1000:.1f} ms|{g*1000:.1f} ms|{o/g:.2f}x")
PY
else
  t() { local s e; s=$(date +%s%N); for _ in 1 2 3 4 5; do "$@" > /dev/null || true; done; e=$(date +%s%N); echo $(( (e - s) / 5000000 )); }
  g=$(t $baseline); o=$(t $ours)
  echo "grep ${g} ms, gitops-bump ${o} ms (mean of 5)"
  awk -v g="$g" -v o="$o" 'BEGIN { printf "%s ms|%s ms|%.2fx", o, g, (g > 0 ? o / g : 0) }' > "$work/h.json.row"
fi

/usr/bin/time -v $ours 2> "$work/time.txt" > /dev/null || true
rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")
rss_ours=$rss
echo "gitops-bump peak RSS: $((rss / 1024)) MB ($rss kB; goal < 50 MB)"
/usr/bin/time -v $baseline 2> "$work/time.txt" > /dev/null || true
rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")
echo "grep peak RSS: $((rss / 1024)) MB ($rss kB)"
IFS="|" read -r row_ours row_grep row_ratio < "$work/h.json.row" || true  # no final newline
printf '| scan %s files (%s MB) with `set-image --check` | %s | %s (`grep -rl`) | %s | %s MB peak RSS |\n' \
  "$files" "$total_mb" "$row_ours" "$row_grep" "$row_ratio" "$((rss_ours / 1024))"
