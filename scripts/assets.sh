#!/usr/bin/env bash
# The web app's front-end assets: installed from the npm registry, exactly as
# services/web/package-lock.json pins them (integrity-checked by npm ci), then
# copied into the package's static folder, from which the app serves them
# itself (no CDN: the pages work on a hospital network without the internet).
# Quiet when up to date.
set -euo pipefail
cd "$(dirname "$0")/../services/web"
vendor=src/web/static/vendor
stamp=$vendor/.installed
inputs=$( (cat package-lock.json; cat ../../scripts/assets.sh) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to install the web app's assets (Debian: apt-get install npm)" >&2; exit 1; }
echo "installing the web app's assets (npm ci)"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf "$vendor" && mkdir -p "$vendor"
cp node_modules/htmx.org/dist/htmx.min.js \
   node_modules/htmx-ext-sse/dist/sse.min.js \
   node_modules/chart.js/dist/chart.umd.min.js \
   node_modules/@event-calendar/build/dist/event-calendar.min.js \
   node_modules/@event-calendar/build/dist/event-calendar.min.css \
   "$vendor"/
echo "$inputs" > "$stamp"
