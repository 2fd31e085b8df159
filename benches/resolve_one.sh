#!/usr/bin/env bash
# Benchmark: the fixed cost of one `gitops-bump resolve IMAGE` against a
# local anonymous plain-HTTP registry, next to `skopeo inspect --raw` of the
# same image (`--tls-verify=false`), measured in the same run with the two
# interleaved rep by rep, so machine noise hits both alike. Prints the
# medians, the ratio (target: <= 1.2x) and a BENCHMARKS.md table row.
#
# Set BASELINE_BIN to a second gitops-bump binary (an older build) to time
# it interleaved as well, as the before/after of a change.
#
# Needs: docker-registry, skopeo, python3.
# Usage: benches/resolve_one.sh                 (release build)
#        REPS=200 benches/resolve_one.sh
set -euo pipefail

cd "$(dirname "$0")/.."
REPS=${REPS:-100}
if [ -z "${GITOPS_BUMP_BIN:-}" ]; then cargo build -q --release; fi
BIN=${GITOPS_BUMP_BIN:-$PWD/target/release/gitops-bump}
BASELINE_BIN=${BASELINE_BIN:-}

T=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

cat >"$T/reg.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/data
http:
  addr: 127.0.0.1:0
  secret: bench-secret
EOF
docker-registry serve "$T/reg.yml" >"$T/reg.out" 2>"$T/reg.err" &
PIDS+=($!)
REG=
for _ in $(seq 1 1000); do
  REG=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$T/reg.err" 2>/dev/null | head -1 | cut -d' ' -f3 || true)
  [ -n "$REG" ] && break
  sleep 0.01
done
[ -n "$REG" ] || { echo "the registry did not start" >&2; cat "$T/reg.err" >&2; exit 1; }

python3 "$PWD/scripts/mklayout.py" "$T/layout" >/dev/null
export XDG_RUNTIME_DIR=$T/xdg; mkdir -p "$XDG_RUNTIME_DIR"
IMAGE=$REG/bench/app:v1
skopeo copy --quiet --dest-tls-verify=false "oci:$T/layout:single" "docker://$IMAGE"
# No credentials anywhere: both tools go anonymous.
mkdir -p "$T/docker" && echo '{}' >"$T/docker/config.json"
export DOCKER_CONFIG=$T/docker REGISTRY_AUTH_FILE=$T/docker/config.json

# Both must agree before anything is timed.
want="$IMAGE@sha256:$(skopeo inspect --raw --tls-verify=false "docker://$IMAGE" | sha256sum | cut -d' ' -f1)"
got=$("$BIN" resolve --insecure-registry "$REG" "$IMAGE")
[ "$got" = "$want" ] || { echo "digests differ: $got vs $want" >&2; exit 1; }

python3 - "$REPS" "$IMAGE" "$REG" "$BIN" "$BASELINE_BIN" <<'EOF'
import statistics, subprocess, sys, time

reps, image, reg, ours, baseline = int(sys.argv[1]), *sys.argv[2:6]
commands = {
    "gitops-bump resolve": [ours, "resolve", "--insecure-registry", reg, image],
    "skopeo inspect --raw": ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{image}"],
}
if baseline:
    commands["baseline gitops-bump resolve"] = [baseline, "resolve", "--insecure-registry", reg, image]
times = {name: [] for name in commands}
for rep in range(reps + 3):
    for name, argv in commands.items():
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if rep >= 3:  # the first three are warm-up
            times[name].append((time.perf_counter() - start) * 1000)
med = {name: statistics.median(t) for name, t in times.items()}
print(f"one resolve on an anonymous plain-HTTP registry, {reps} interleaved reps, medians:")
for name, m in med.items():
    print(f"  {name:32} {m:7.1f} ms   (p10 {statistics.quantiles(times[name], n=10)[0]:.1f}, p90 {statistics.quantiles(times[name], n=10)[-1]:.1f})")
ours_m, skopeo_m = med["gitops-bump resolve"], med["skopeo inspect --raw"]
print(f"  ratio ours/skopeo: {ours_m / skopeo_m:.2f}x (target <= 1.20x)")
if baseline:
    print(f"  ratio ours/baseline build: {ours_m / med['baseline gitops-bump resolve']:.2f}x")
print(f"| one `resolve` of one image, anonymous plain-HTTP registry | {ours_m:.1f} ms | {skopeo_m:.1f} ms (`skopeo inspect --raw`) | {ours_m / skopeo_m:.2f}x | median of {reps} interleaved reps; target <= 1.2x |")
EOF
