#!/usr/bin/env bash
# The front-end assets: installed from the npm registry, exactly as
# services/web/package-lock.json pins them (integrity-checked by npm ci), then
# copied into the packages' static folders, from which the apps serve them
# themselves (no CDN: the pages work on a hospital network without the internet):
# the web app's pages (htmx, Chart.js, EventCalendar) and every service's API
# documents (Swagger UI at /docs, ReDoc at /redoc, the AsyncAPI viewer at
# /asyncapi: jumelage.documents). Quiet when up to date.
#
#   scripts/assets.sh [FOLDER [DOCS_FOLDER]]
#
# FOLDER: where the web app's files go, services/web/src/web/static/vendor by
# default; DOCS_FOLDER: the documents' viewers, shared/src/jumelage/static/docs
# by default (deploy/Dockerfile's Node stage names its own). The one list of the files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vendor=${1:-$here/../services/web/src/web/static/vendor}
docs=${2:-$here/../shared/src/jumelage/static/docs}
mkdir -p "$vendor" "$docs"
vendor=$(cd "$vendor" && pwd)  # absolute: npm runs in services/web
docs=$(cd "$docs" && pwd)
cd "$here/../services/web"
inputs=$( (cat package-lock.json; cat "$here/assets.sh") | sha256sum | cut -d' ' -f1)
if [ -f "$vendor/.installed" ] && [ "$(cat "$vendor/.installed")" = "$inputs" ] \
   && [ -f "$docs/.installed" ] && [ "$(cat "$docs/.installed")" = "$inputs" ]; then
  exit 0
fi
# The folders are emptied before the copy (no file of an older list stays): only
# empty ones, or ones this script filled (they have the stamp).
for folder in "$vendor" "$docs"; do
  if [ ! -f "$folder/.installed" ] && [ -n "$(ls -A "$folder")" ]; then
    echo "$folder is not empty and was not filled by scripts/assets.sh: not touching it" >&2
    exit 1
  fi
done
command -v npm >/dev/null || { echo "npm is needed to install the web app's assets (Debian: apt-get install npm)" >&2; exit 1; }
echo "installing the web app's assets (npm ci)"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
find "$vendor" "$docs" -mindepth 1 -delete
cp node_modules/htmx.org/dist/htmx.min.js \
   node_modules/htmx-ext-sse/dist/sse.min.js \
   node_modules/chart.js/dist/chart.umd.min.js \
   node_modules/@event-calendar/build/dist/event-calendar.min.js \
   node_modules/@event-calendar/build/dist/event-calendar.min.css \
   "$vendor"/
# The names jumelage.documents.ASSET_FILES lists.
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js \
   node_modules/swagger-ui-dist/swagger-ui.css \
   node_modules/swagger-ui-dist/favicon-32x32.png \
   node_modules/redoc/bundles/redoc.standalone.js \
   "$docs"/
cp node_modules/@asyncapi/react-component/browser/standalone/index.js "$docs"/asyncapi-standalone.js
cp node_modules/@asyncapi/react-component/styles/default.min.css "$docs"/asyncapi.css
echo "$inputs" > "$vendor/.installed"
echo "$inputs" > "$docs/.installed"
