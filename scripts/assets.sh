#!/usr/bin/env bash
# The web app's front-end assets: installed from the npm registry, exactly as
# services/web/package-lock.json pins them (integrity-checked by npm ci), then
# copied into the package's static folder, from which the app serves them
# itself (no CDN: the pages work on a hospital network without the internet).
# Quiet when up to date.
#
#   scripts/assets.sh [FOLDER]
#
# FOLDER: where the files go, services/web/src/web/static/vendor by default
# (deploy/Dockerfile's Node stage names its own). The one list of the files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vendor=${1:-$here/../services/web/src/web/static/vendor}
mkdir -p "$vendor"
vendor=$(cd "$vendor" && pwd)  # absolute: npm runs in services/web
stamp=$vendor/.installed
cd "$here/../services/web"
inputs=$( (cat package-lock.json; cat "$here/assets.sh") | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  exit 0
fi
# The folder is emptied before the copy (no file of an older list stays): only
# an empty one, or one this script filled (it has the stamp).
if [ ! -f "$stamp" ] && [ -n "$(ls -A "$vendor")" ]; then
  echo "$vendor is not empty and was not filled by scripts/assets.sh: not touching it" >&2
  exit 1
fi
command -v npm >/dev/null || { echo "npm is needed to install the web app's assets (Debian: apt-get install npm)" >&2; exit 1; }
echo "installing the web app's assets (npm ci)"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
find "$vendor" -mindepth 1 -delete
cp node_modules/htmx.org/dist/htmx.min.js \
   node_modules/htmx-ext-sse/dist/sse.min.js \
   node_modules/chart.js/dist/chart.umd.min.js \
   node_modules/@event-calendar/build/dist/event-calendar.min.js \
   node_modules/@event-calendar/build/dist/event-calendar.min.css \
   "$vendor"/
echo "$inputs" > "$stamp"
