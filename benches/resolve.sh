#!/usr/bin/env bash
# Benchmark: resolve 20 tags (4 repositories x 5 tags) on a real token-auth
# registry on 127.0.0.1 with ONE `gitops-bump resolve` run, against the
# baseline of `skopeo inspect --raw` run 20 times sequentially, measured in
# the same run. Also counts the HTTP requests gitops-bump makes (registry
# access log + token server log): the goal is one /v2/ ping, one token fetch
# per repository scope and one HEAD per image.
#
# Needs: docker-registry, skopeo, python3, openssl, cargo.
# Usage: benches/resolve.sh            (debug build)
#        PROFILE=release benches/resolve.sh
#        ROUNDS=5 benches/resolve.sh
set -euo pipefail

cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
ROUNDS=${ROUNDS:-3}
if [ "$PROFILE" = release ]; then cargo build -q --release; else cargo build -q; fi
BIN=${GITOPS_BUMP_BIN:-$PWD/target/$PROFILE/gitops-bump}
SUPPORT=$PWD/tests/support/servers

T=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

# Polls FILE for "listening on 127.0.0.1:PORT" (bounded: 10 s).
wait_addr() {
  for _ in $(seq 1 1000); do
    addr=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$1" 2>/dev/null | head -1 | cut -d' ' -f3 || true)
    if [ -n "$addr" ]; then echo "$addr"; return 0; fi
    sleep 0.01
  done
  echo "no 'listening on' line in $1" >&2; cat "$1" >&2; return 1
}

USER=benchuser PASS=benchpass
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
  -subj /CN=bench-token-signer >/dev/null 2>&1
python3 "$SUPPORT/tokenserver.py" 0 "$T/key.pem" "$T/cert.pem" bench-issuer "$USER:$PASS" \
  >"$T/token.out" 2>"$T/token.err" &
PIDS+=($!)
TOKEN_ADDR=$(wait_addr "$T/token.out")

cat >"$T/reg.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $T/data
http:
  addr: 127.0.0.1:0
  secret: bench-secret
auth:
  token:
    realm: http://$TOKEN_ADDR/token
    service: bench-registry
    issuer: bench-issuer
    rootcertbundle: $T/cert.pem
EOF
docker-registry serve "$T/reg.yml" >"$T/reg.out" 2>"$T/reg.err" &
PIDS+=($!)
REG=$(wait_addr "$T/reg.err")

python3 "$PWD/scripts/mklayout.py" "$T/layout" >/dev/null
export XDG_RUNTIME_DIR=$T/xdg; mkdir -p "$XDG_RUNTIME_DIR"
REFS=()
for repo in api web worker cron; do
  for tag in 1 2 3 4 5; do
    skopeo copy --quiet --dest-tls-verify=false --dest-creds "$USER:$PASS" \
      "oci:$T/layout:single" "docker://$REG/bench/$repo:v$tag"
    REFS+=("$REG/bench/$repo:v$tag")
  done
done

mkdir -p "$T/docker"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf '%s:%s' "$USER" "$PASS" | base64)" >"$T/docker/config.json"
export DOCKER_CONFIG=$T/docker

now_ms() { date +%s%3N; }
count() { grep -c "$1" "$2" || true; }

# One counted gitops-bump run.
access_before=$(wc -l <"$T/reg.out"); tokens_before=$(count 'TOKEN REQ' "$T/token.err")
"$BIN" resolve --insecure-registry "$REG" --insecure-registry "$TOKEN_ADDR" "${REFS[@]}" >"$T/resolved.txt"
sleep 0.2   # let the registry flush its access log
# The registry writes its access log to stdout; keep only our requests.
tail -n +"$((access_before + 1))" "$T/reg.out" | grep '"gitops-bump/' >"$T/access.log" || true
requests=$(wc -l <"$T/access.log")
pings=$(grep -c '"GET /v2/ HTTP' "$T/access.log" || true)
heads=$(grep -c '"HEAD /v2/bench/' "$T/access.log" || true)
gets=$(grep -c '"GET /v2/bench/' "$T/access.log" || true)
tokens=$(( $(count 'TOKEN REQ' "$T/token.err") - tokens_before ))
resolved=$(wc -l <"$T/resolved.txt")

# The same 20 digests from skopeo, to prove both tools agree.
mismatches=0
for ref in "${REFS[@]}"; do
  d=$(skopeo inspect --raw --tls-verify=false --creds "$USER:$PASS" "docker://$ref" | sha256sum | cut -d' ' -f1)
  grep -qx "$ref@sha256:$d" "$T/resolved.txt" || mismatches=$((mismatches + 1))
done

ours=(); theirs=()
for _ in $(seq 1 "$ROUNDS"); do
  s=$(now_ms); "$BIN" resolve --insecure-registry "$REG" --insecure-registry "$TOKEN_ADDR" "${REFS[@]}" >/dev/null; e=$(now_ms)
  ours+=($((e - s)))
  s=$(now_ms)
  for ref in "${REFS[@]}"; do
    skopeo inspect --raw --tls-verify=false --creds "$USER:$PASS" "docker://$ref" >/dev/null
  done
  e=$(now_ms)
  theirs+=($((e - s)))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_ours=$(median "${ours[@]}"); m_theirs=$(median "${theirs[@]}")

echo "resolve 20 tags in 4 repositories on a token-auth registry ($PROFILE build, $ROUNDS rounds)"
echo "  resolved: $resolved/20, digest mismatches vs skopeo: $mismatches"
echo "  registry requests in one run: $requests: pings=$pings token fetches=$tokens (goal 4) HEAD=$heads (goal 20) manifest GETs=$gets (goal 0)"
echo "  gitops-bump resolve (one run, 20 refs):   ${ours[*]} ms, median $m_ours ms"
echo "  skopeo inspect --raw x20 (sequential):    ${theirs[*]} ms, median $m_theirs ms"
awk -v a="$m_theirs" -v b="$m_ours" 'BEGIN { if (b > 0) printf "  speed-up (skopeo / gitops-bump): %.1fx\n", a / b }'
awk -v a="$m_theirs" -v b="$m_ours" -v r="$requests" 'BEGIN { if (a > 0) printf "| resolve 20 tags, token-auth registry | %s ms | %s ms (`skopeo inspect --raw` x20) | %.2fx | %s registry requests, median of rounds |\n", b, a, b / a, r }'
[ "$resolved" -eq 20 ] && [ "$mismatches" -eq 0 ] && [ "$heads" -eq 20 ] && [ "$tokens" -eq 4 ]
