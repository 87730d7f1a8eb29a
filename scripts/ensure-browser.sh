#!/usr/bin/env bash
# The browser the web app's browser tests drive (services/web/tests/test_browser.py):
# Debian's chromium, installed here when missing (Playwright drives it as it is; no
# browser is downloaded by Playwright). A browser that cannot be had is a failure.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
command -v apt-get >/dev/null || { echo "error: $CHROMIUM is missing and there is no apt-get to install it" >&2; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing Debian's chromium for the browser tests"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-core >/dev/null
[ -x "$CHROMIUM" ] || { echo "error: $CHROMIUM still missing after apt-get install chromium" >&2; exit 1; }
