#!/usr/bin/env bash
# Time from process start to a usable Google access token:
#   gitops-bump auth google            (our OIDC -> STS -> impersonation)
# versus the baseline measured in the same run:
#   gcloud auth print-access-token     (same flow, driven by the credentials file we write)
# Both cold: no token cache (gcloud gets a fresh CLOUDSDK_CONFIG before every run).
# Both talk to the same local fake OIDC/STS/IAM server on 127.0.0.1.
#
# Usage: benches/auth.sh [RUNS]     (BIN=path/to/gitops-bump to skip the release build)
# Needs: python3, gcloud, hyperfine.
set -euo pipefail

runs="${1:-10}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

for tool in python3 gcloud hyperfine; do
  command -v "$tool" >/dev/null || { echo "benches/auth.sh: $tool is required" >&2; exit 2; }
done

BIN=${BIN:-${GITOPS_BUMP_BIN:-}}
if [[ -z "${BIN:-}" ]]; then
  (cd "$root" && cargo build --release --quiet --bin gitops-bump)
  BIN="$root/target/release/gitops-bump"
fi

cat > "$work/server.py" <<'PY'
import base64, datetime, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY the
    # body waits ~40 ms for a delayed ACK, which would dominate both timings.
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def _send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        if self.path.startswith("/oidc"):
            now = int(time.time())
            claims = {"sub": "repo:octo/app:ref:refs/heads/main", "repository": "octo/app",
                      "ref": "refs/heads/main", "aud": "x", "iat": now, "exp": now + 300}
            header = b64(json.dumps({"alg": "RS256"}).encode())
            jwt = header + "." + b64(json.dumps(claims).encode()) + "." + b64(b"sig")
            self._send(200, {"value": jwt})
        else:
            self._send(404, {})
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/v1/token"):
            self._send(200, {"access_token": "BENCH-STS", "token_type": "Bearer", "expires_in": 3600,
                             "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})
        elif self.path.endswith(":generateAccessToken"):
            exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._send(200, {"accessToken": "BENCH-IMPERSONATED", "expireTime": exp})
        else:
            self._send(404, {})

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
PY

python3 "$work/server.py" > "$work/port" &
server_pid=$!
for _ in $(seq 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port="$(head -1 "$work/port")"
[[ -n "$port" ]] || { echo "benches/auth.sh: fake server did not start" >&2; exit 1; }

provider="projects/123456/locations/global/workloadIdentityPools/gh-pool/providers/gh-prov"
sa="deployer@proj.iam.gserviceaccount.com"
mkdir -p "$work/runner_temp" "$work/workspace"
export ACTIONS_ID_TOKEN_REQUEST_URL="http://127.0.0.1:$port/oidc?api-version=2.0"
export ACTIONS_ID_TOKEN_REQUEST_TOKEN="bench-request-token"
export GITOPS_BUMP_STS_URL="http://127.0.0.1:$port/v1/token"
export GITOPS_BUMP_IAM_CREDENTIALS_URL="http://127.0.0.1:$port/v1"
unset GITHUB_ACTIONS GITHUB_ENV GITHUB_STATE GITHUB_OUTPUT GITHUB_EVENT_NAME GITHUB_EVENT_PATH || true

# The credentials file gcloud will use, written by our code.
creds="$(RUNNER_TEMP="$work/runner_temp" GITHUB_WORKSPACE="$work/workspace" \
  "$BIN" auth google --workload-identity-provider "$provider" --service-account "$sa" \
  --create-credentials-file true --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["credentials_file"])')"

# Sanity: both must produce the same token before we time them.
gcloud_env=(env CLOUDSDK_CONFIG="$work/gcloud" CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE="$creds"
  CLOUDSDK_CORE_DISABLE_PROMPTS=1 CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true
  CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true)
got="$("${gcloud_env[@]}" gcloud auth print-access-token)"
[[ "$got" == "BENCH-IMPERSONATED" ]] || { echo "gcloud printed an unexpected token" >&2; exit 1; }

ours="$BIN auth google --workload-identity-provider $provider --service-account $sa"
theirs="${gcloud_env[*]} gcloud auth print-access-token"
hyperfine --runs "$runs" --warmup 1 -N \
  --prepare "rm -rf $work/gcloud" \
  --export-json "$work/result.json" \
  -n "gitops-bump auth google" "$ours" \
  -n "gcloud auth print-access-token (baseline)" "$theirs" >&2

python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours = r["gitops-bump auth google"]; base = r["gcloud auth print-access-token (baseline)"]
print(f"gitops-bump auth google:         mean {ours['mean']*1000:7.1f} ms  (min {ours['min']*1000:.1f}, max {ours['max']*1000:.1f})")
print(f"gcloud auth print-access-token:  mean {base['mean']*1000:7.1f} ms  (min {base['min']*1000:.1f}, max {base['max']*1000:.1f})")
print(f"ratio gcloud / gitops-bump:      {base['mean']/ours['mean']:.1f}x")
print(f"| keyless auth (OIDC, STS, impersonation) | {ours['mean']*1000:.1f} ms | {base['mean']*1000:.1f} ms (`gcloud auth print-access-token`) | {ours['mean']/base['mean']:.2f}x | mean of {len(ours['times'])} runs, local fake Google |")
PY
