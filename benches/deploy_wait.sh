#!/usr/bin/env bash
# Benchmark: time from the push to "Argo CD synced our commit" with the
# nudge (`argocd-refresh: normal`, the default) against without it
# (`argocd-refresh: none`: Argo CD notices the commit at its next git poll),
# in the same run, interleaved rep by rep.
#
# Argo CD is the local stand-in of the deploy tests
# (tests/support/servers/fake_argocd.py): its REST API and an application
# controller polling a real bare repository every POLL seconds (Argo CD's
# timeout.reconciliation, 180 s by default), syncing automatically (0.2 s)
# and turning Healthy (0.3 s later). Each rep is one `gitops-bump run`
# bumping the image in that repository and waiting, started after a random
# pause in [0, POLL) so pushes land anywhere in the poll cycle; the times
# are its own `seconds-to-synced` and `seconds-to-healthy` outputs. Prints
# every rep, the medians and means, and a BENCHMARKS.md row.
#
# Needs: git, python3.
# Usage: benches/deploy_wait.sh                    (release build)
#        POLL=60 REPS=10 benches/deploy_wait.sh
#        GITOPS_BUMP_BIN=target/debug/gitops-bump benches/deploy_wait.sh
set -euo pipefail

cd "$(dirname "$0")/.."
REPS=${REPS:-6}
POLL=${POLL:-20}
# How often the step asks Argo CD; small, so the times measure Argo CD.
ASK=${ASK:-200ms}
if [ -z "${GITOPS_BUMP_BIN:-}" ]; then cargo build -q --release; fi
BIN=$(realpath "${GITOPS_BUMP_BIN:-target/release/gitops-bump}")
ROOT=$PWD

T=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.test
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.test
git init -q --bare -b main "$T/gitops.git"
git clone -q "$T/gitops.git" "$T/seed" 2>/dev/null
mkdir -p "$T/seed/overlays/dev"
cat >"$T/seed/overlays/dev/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: ghcr.io/org/app
    newTag: 1.0.0
EOF
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n' >"$T/seed/overlays/dev/deployment.yaml"
git -C "$T/seed" add -A && git -C "$T/seed" commit -q -m initial && git -C "$T/seed" push -q origin main

TOKEN=argocd-bench-token-0000
cat >"$T/argo.json" <<EOF
{"bare": "$T/gitops.git", "branch": "main", "poll_interval": $POLL,
 "tokens": {"$TOKEN": ["*"]},
 "apps": {"app-dev": {"scenario": "healthy", "sync_delay": 0.2, "health_delay": 0.3}},
 "state": "$T/argo-state.json"}
EOF
python3 "$ROOT/tests/support/servers/fake_argocd.py" "$T/argo.json" >"$T/argo.port" 2>"$T/argo.err" &
PIDS+=($!)
PORT=
for _ in $(seq 1 500); do
  PORT=$(head -1 "$T/argo.port" 2>/dev/null || true)
  [ -n "$PORT" ] && break
  sleep 0.01
done
[ -n "$PORT" ] || { echo "the Argo CD stand-in did not start" >&2; cat "$T/argo.err" >&2; exit 1; }

mkdir -p "$T/work"
# One bump and wait; prints "SYNCED HEALTHY WALL" in seconds.
bump() {
  local refresh=$1 tag=$2 out start end
  start=$(date +%s.%N)
  out=$(cd "$T/work" && env -i PATH="$PATH" HOME="$T/work" \
    INPUT_IMAGES="app=ghcr.io/org/app:$tag" INPUT_PATHS=overlays/dev \
    INPUT_REPOSITORY="$T/gitops.git" INPUT_VERIFY=false \
    INPUT_ARGOCD-SERVER="http://127.0.0.1:$PORT" INPUT_ARGOCD-TOKEN="$TOKEN" \
    INPUT_ARGOCD-APPLICATIONS=app-dev INPUT_ARGOCD-REFRESH="$refresh" \
    INPUT_DEPLOY-TIMEOUT=$((POLL * 3))s INPUT_DEPLOY-POLL-INTERVAL="$ASK" \
    "$BIN" run 2>"$T/last.err") || { cat "$T/last.err" >&2; exit 1; }
  end=$(date +%s.%N)
  grep -q '^deployed=true$' <<<"$out" || { echo "not deployed:" >&2; cat "$T/last.err" >&2; exit 1; }
  printf '%s %s %s\n' \
    "$(sed -n 's/^seconds-to-synced=//p' <<<"$out")" \
    "$(sed -n 's/^seconds-to-healthy=//p' <<<"$out")" \
    "$(python3 -c "print(f'{$end - $start:.2f}')")"
}

: >"$T/nudge" && : >"$T/none"
n=0
for rep in $(seq 1 "$REPS"); do
  # Alternate which goes first, so neither always follows the other.
  if [ $((rep % 2)) -eq 1 ]; then order="normal none"; else order="none normal"; fi
  for refresh in $order; do
    # Land the push at a random point of the poll cycle: back to back, each
    # push would follow the previous run's poll by a second, the worst case.
    sleep "$(python3 -c "import random; print(f'{random.uniform(0, $POLL):.2f}')")"
    n=$((n + 1))
    result=$(bump "$refresh" "1.0.$n")
    if [ "$refresh" = normal ]; then echo "$result" >>"$T/nudge"; else echo "$result" >>"$T/none"; fi
    echo "rep $rep argocd-refresh=$refresh: push->synced push->healthy wall = $result" >&2
  done
done

python3 - "$T/nudge" "$T/none" "$POLL" "$REPS" "$ASK" <<'EOF'
import statistics, sys, datetime
def load(p):
    return [tuple(float(x) for x in l.split()) for l in open(p) if l.strip()]
nudge, none = load(sys.argv[1]), load(sys.argv[2])
poll, reps, ask = sys.argv[3], sys.argv[4], sys.argv[5]
def col(rows, i): return [r[i] for r in rows]
med = lambda rows, i: statistics.median(col(rows, i))
mean = lambda rows, i: statistics.mean(col(rows, i))
for name, rows in (("nudge (argocd-refresh: normal)", nudge), ("no nudge (argocd-refresh: none)", none)):
    print(f"{name}: push->synced median {med(rows,0):.2f} s, mean {mean(rows,0):.2f} s, "
          f"range {min(col(rows,0)):.2f}-{max(col(rows,0)):.2f} s; push->healthy median {med(rows,1):.2f} s; "
          f"whole step median {med(rows,2):.2f} s")
ratio = med(nudge, 0) / med(none, 0)
today = datetime.date.today().isoformat()
print(f"| deploy wait: push -> synced, Argo CD stand-in polling git every {poll} s ({today}) | "
      f"{med(nudge,0):.2f} s with the nudge (push -> healthy {med(nudge,1):.2f} s) | "
      f"{med(none,0):.2f} s without (`argocd-refresh: none`; push -> healthy {med(none,1):.2f} s) | "
      f"{ratio:.2f}x | medians of {reps} interleaved reps each (`benches/deploy_wait.sh`), asked every {ask}; "
      f"pushes at random points of the poll cycle; without the nudge the wait is the rest of the "
      f"cycle: range {min(col(none,0)):.1f}-{max(col(none,0)):.1f} s, mean {mean(none,0):.1f} s |")
EOF
