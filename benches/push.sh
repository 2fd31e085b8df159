#!/usr/bin/env bash
# Write-back benchmark, ours vs shell baselines, against the same local
# smart-HTTP remote (git http-backend behind Basic auth) in the same run.
#
#  (a) one bump: `gitops-bump run` (git2 write-back: shallow fetch, edit, commit,
#      push) vs `git clone --depth 1 && sed -i && git commit && git push`.
#  (b) 16 concurrent bumpers, each bumping a different image in one file:
#      ours (all must land) vs 16 copies of the common shell loop
#      `for i in 1 2 3; do git pull --rebase origin main; git push && break; sleep 5; done`.
#
# usage: benches/push.sh [RUNS_A]   (PROFILE=release for an optimized build)
set -euo pipefail

RUNS_A=${1:-5}
BUMPERS=16
PROFILE=${PROFILE:-dev}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TOKEN=bench-token-not-secret
T=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

if [ -z "${GITOPS_BUMP_BIN:-}" ]; then
  cargo build --quiet --profile "$PROFILE" --manifest-path "$HERE/Cargo.toml"
  target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$HERE/Cargo.toml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  case "$PROFILE" in dev) sub=debug ;; *) sub=$PROFILE ;; esac
  GITOPS_BUMP_BIN="$target_dir/$sub/gitops-bump"
fi

# One bump with the real CLI, as the action runs it (no registry check:
# this measures the write-back). Prints outputs as key=value lines.
bump() {  # URL FILE IMAGE TAG
  env -u GITHUB_ACTIONS -u GITHUB_OUTPUT "INPUT_REPOSITORY=$1" "INPUT_INSECURE-GIT-ORIGINS=$1" "INPUT_PATHS=$2" "INPUT_IMAGES=$3:$4" \
    INPUT_VERIFY=false "INPUT_TOKEN=$TOKEN" "INPUT_MAX-ATTEMPTS=30" "$GITOPS_BUMP_BIN" run
}

export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 HOME="$T/home"
mkdir -p "$HOME"
git config --global user.name bench
git config --global user.email bench@example.test
git config --global init.defaultBranch main
git config --global advice.detachedHead false

python3 "$HERE/tests/support/servers/githttp.py" "$T/root" "$TOKEN" > "$T/port" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(head -n1 "$T/port")
URL="http://127.0.0.1:$PORT/org/gitops.git"
CRED_URL="http://x-access-token:$TOKEN@127.0.0.1:$PORT/org/gitops.git"   # baseline only

now() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# A fresh remote whose one file holds $1 images svc-0..svc-N at v0.
seed() {
  rm -rf "$T/root" "$T/seed"
  git init -q --bare "$T/root/org/gitops.git"
  git -C "$T/root/org/gitops.git" config http.receivepack true
  git init -q "$T/seed"
  { echo "services:"
    for i in $(seq 0 $(($1 - 1))); do echo "  svc-$i:"; echo "    image: ghcr.io/org/svc-$i:v0"; done
  } > "$T/seed/apps.yaml"
  git -C "$T/seed" add -A && git -C "$T/seed" commit -qm seed
  # Some history, so a shallow clone matters.
  for h in 1 2 3 4 5; do echo "# history $h" >> "$T/seed/apps.yaml"; git -C "$T/seed" commit -qam "history $h"; done
  git -C "$T/seed" push -q "$T/root/org/gitops.git" HEAD:main
}

landed() {  # how many svc-i are at tag "$2-i" on main
  local text n=0
  text=$(git -C "$T/root/org/gitops.git" show main:apps.yaml)
  for i in $(seq 0 $(($1 - 1))); do
    grep -q "image: ghcr.io/org/svc-$i:$2-$i\$" <<<"$text" && n=$((n + 1))
  done
  echo "$n"
}

echo "== (a) one bump, $RUNS_A runs each, alternating =="
seed 4
ours_total=0; base_total=0
for r in $(seq 1 "$RUNS_A"); do
  s=$(now)
  bump "$URL" apps.yaml ghcr.io/org/svc-0 "ours$r" > /dev/null 2>&1
  e=$(now); ours=$(elapsed "$s" "$e")
  s=$(now)
  rm -rf "$T/base"
  git clone -q --depth 1 "$CRED_URL" "$T/base"
  sed -i "s#image: ghcr.io/org/svc-1:.*#image: ghcr.io/org/svc-1:base$r#" "$T/base/apps.yaml"
  git -C "$T/base" commit -qam "bump svc-1 [skip ci]"
  git -C "$T/base" push -q origin HEAD:main
  e=$(now); base=$(elapsed "$s" "$e")
  echo "run $r: ours ${ours}s  shell ${base}s"
  ours_total=$(python3 -c "print($ours_total + $ours)"); base_total=$(python3 -c "print($base_total + $base)")
done
ours_mean=$(python3 -c "print(f'{$ours_total / $RUNS_A:.2f}')"); base_mean=$(python3 -c "print(f'{$base_total / $RUNS_A:.2f}')")
echo "mean: ours ${ours_mean}s  shell ${base_mean}s"

echo "== (b) $BUMPERS concurrent bumpers, one file =="
seed "$BUMPERS"
s=$(now)
pids=()
for i in $(seq 0 $((BUMPERS - 1))); do
  bump "$URL" apps.yaml "ghcr.io/org/svc-$i" "ours-$i" > "$T/ours-$i.out" 2> "$T/ours-$i.err" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
e=$(now)
attempts=$(cat "$T"/ours-*.out | sed -n 's/^attempts=\([0-9]*\).*/\1/p' | python3 -c 'import sys; print(sum(int(l) for l in sys.stdin))')
max_attempts=$(cat "$T"/ours-*.out | sed -n 's/^attempts=\([0-9]*\).*/\1/p' | sort -n | tail -1)
ours_landed=$(landed "$BUMPERS" ours); ours_wall=$(elapsed "$s" "$e")
echo "ours:  $ours_landed/$BUMPERS landed, $failed failed, $attempts push attempts (max $max_attempts per bumper), wall ${ours_wall}s"

seed "$BUMPERS"
for i in $(seq 0 $((BUMPERS - 1))); do
  git clone -q --depth 1 "$CRED_URL" "$T/b$i"
done
s=$(now)
pids=()
for i in $(seq 0 $((BUMPERS - 1))); do
  (
    cd "$T/b$i"
    sed -i "s#image: ghcr.io/org/svc-$i:.*#image: ghcr.io/org/svc-$i:base-$i#" apps.yaml
    git commit -qam "bump svc-$i [skip ci]"
    for _ in 1 2 3; do git pull -q --rebase origin main; git push -q origin HEAD:main && break; sleep 5; done
  ) > "$T/base-$i.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
e=$(now)
n=$(landed "$BUMPERS" base)
base_wall=$(elapsed "$s" "$e")
echo "shell: $n/$BUMPERS landed, $((BUMPERS - n)) lost, wall ${base_wall}s (clones made before the clock started)"
printf '| one bump (clone, edit, commit, push over HTTP) | %s s | %s s (`git clone --depth 1 && sed && git commit && git push`) | %s | mean of %s |\n' \
  "$ours_mean" "$base_mean" "$(python3 -c "print(f'{$ours_mean / $base_mean:.2f}x')")" "$RUNS_A"
printf '| %s concurrent bumpers, one branch | %s/%s landed, %s s | %s/%s landed (%s lost), %s s (3-try `pull --rebase` loop) | %s | %s push attempts, max %s per bumper |\n' \
  "$BUMPERS" "$ours_landed" "$BUMPERS" "$ours_wall" "$n" "$BUMPERS" "$((BUMPERS - n))" "$base_wall" \
  "$(python3 -c "print(f'{$ours_wall / $base_wall:.2f}x')")" "$attempts" "$max_attempts"
