#!/usr/bin/env bash
# The checking tools the suite runs (never shipped): the AsyncAPI project's own CLI
# (`asyncapi validate`), installed from the npm registry exactly as tools/package-lock.json
# pins it (integrity-checked by npm ci, no install scripts), into tools/node_modules.
# Quiet when up to date; a tool that cannot be had is a failure (the test fails, nothing is skipped).
#
#   scripts/tools.sh    then: tools/node_modules/.bin/asyncapi validate FILE
set -euo pipefail
cd "$(dirname "$0")/../tools"
stamp=node_modules/.installed
inputs=$( (cat package-lock.json; cat ../scripts/tools.sh) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to install the checking tools (Debian: apt-get install npm)" >&2; exit 1; }
echo "installing the checking tools (npm ci in tools/)" >&2
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
echo "$inputs" > "$stamp"
