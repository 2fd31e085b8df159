#!/usr/bin/env bash
# The main job end to end on the bundled example, on this machine only:
#   1. a real OCI registry (CNCF distribution) on 127.0.0.1 and a tiny
#      multi-arch image pushed into it with skopeo (no Docker daemon needed);
#   2. a bare git remote made from examples/gitops-repo, checked out the way
#      actions/checkout leaves a workspace;
#   3. `gitops-bump run` with Actions-style inputs and environment files:
#      verify the image and its platforms, bump overlays/dev, commit, push;
#   4. the outputs, the job summary, `git log -1 --stat` of the remote, and
#      what `kubectl kustomize` renders now; then a second run: a no-op.
# Set GITOPS_BUMP_BIN to use a prebuilt binary instead of `cargo build --release`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/scripts/install-test-deps.sh"

if [ -z "${GITOPS_BUMP_BIN:-}" ]; then
  echo "== building gitops-bump (release)"
  cargo build --release --locked --manifest-path "$ROOT/Cargo.toml" --quiet
  GITOPS_BUMP_BIN="$ROOT/target/release/gitops-bump"
fi

T="$(mktemp -d)"
REGISTRY_PID=""
cleanup() {
  if [ -n "$REGISTRY_PID" ]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

echo "== starting a local OCI registry"
cat > "$T/registry.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/registry-data
http:
  addr: 127.0.0.1:0
  secret: demo-only
EOF
docker-registry serve "$T/registry.yml" 2> "$T/registry.log" &
REGISTRY_PID=$!
REGISTRY=""
for _ in $(seq 1 100); do
  REGISTRY="$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$T/registry.log" | head -1)"
  [ -n "$REGISTRY" ] && break
  sleep 0.05
done
[ -n "$REGISTRY" ] || { cat "$T/registry.log"; echo "registry did not start" >&2; exit 1; }
echo "registry at $REGISTRY"

echo "== pushing a multi-arch image (linux/amd64 + linux/arm64)"
python3 "$ROOT/scripts/mklayout.py" "$T/layout" "demo $(date +%s)" > "$T/digests"
export XDG_RUNTIME_DIR="$T/xdg"
mkdir -p "$XDG_RUNTIME_DIR"
IMAGE="$REGISTRY/example-org/app:v1.1.0"
skopeo copy --quiet --all --preserve-digests --dest-tls-verify=false "oci:$T/layout:multi" "docker://$IMAGE"
echo "pushed $IMAGE ($(awk '/^multi/ {print $2}' "$T/digests"))"

echo "== creating the GitOps remote from examples/gitops-repo"
git init --quiet -b main "$T/seed"
cp -R "$ROOT/examples/gitops-repo/." "$T/seed/"
git -C "$T/seed" add -A
git -C "$T/seed" -c user.name=demo -c user.email=demo@example.invalid commit --quiet -m "initial GitOps repo"
git clone --quiet --bare "$T/seed" "$T/remote.git"
git clone --quiet "file://$T/remote.git" "$T/workspace"

run_action() {
  : > "$T/github_output"
  (cd "$T/workspace" && env \
    GITHUB_ACTIONS=true \
    GITHUB_OUTPUT="$T/github_output" \
    GITHUB_STEP_SUMMARY="$T/github_step_summary" \
    GITHUB_ENV="$T/github_env" \
    GITHUB_REPOSITORY=example-org/gitops-repo \
    GITHUB_SERVER_URL=https://github.com \
    GITHUB_RUN_ID=1 \
    GITHUB_RUN_NUMBER=1 \
    GITHUB_RUN_ATTEMPT=1 \
    GITHUB_SHA=0000000000000000000000000000000000000000 \
    GITHUB_EVENT_NAME=push \
    RUNNER_TEMP="$T" \
    "INPUT_IMAGES=app=$IMAGE" \
    "INPUT_PATHS=overlays/dev" \
    "INPUT_PLATFORMS=linux/amd64,linux/arm64" \
    "INPUT_INSECURE-REGISTRIES=$REGISTRY" \
    "INPUT_MODE=push" \
    "$GITOPS_BUMP_BIN" run)
}

echo "== gitops-bump run (what the Actions log shows)"
run_action
echo
echo "== step outputs (GITHUB_OUTPUT)"
cat "$T/github_output"
echo
echo "== job summary (GITHUB_STEP_SUMMARY)"
cat "$T/github_step_summary"
echo
echo "== the remote's newest commit"
git --git-dir="$T/remote.git" log -1 --stat
if command -v kubectl >/dev/null 2>&1; then
  echo
  echo "== kubectl kustomize overlays/dev renders"
  git clone --quiet "file://$T/remote.git" "$T/verify"
  kubectl kustomize "$T/verify/overlays/dev" | grep 'image:'
fi
echo
echo "== second run with the same inputs: a no-op, no empty commit"
run_action
grep -A1 '^changed<<' "$T/github_output" | tail -1 | sed 's/^/changed=/'
echo "remote commits: $(git --git-dir="$T/remote.git" rev-list --count main)"
