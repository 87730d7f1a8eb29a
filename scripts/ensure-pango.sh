#!/usr/bin/env bash
# What WeasyPrint needs of the system to lay out the convention service's reports
# (services/convention/src/convention/adapters/reports.py): Pango (with HarfBuzz and
# fontconfig) and fonts for Latin and Arabic text. Installed with Debian's apt-get when
# missing, as scripts/ensure-browser.sh does for chromium; missing and not installable
# is a failure, said in one line.
set -euo pipefail
have_pango() { ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so.0' && ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; }
have_fonts() { [ -f /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf ] && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; }
if have_pango && have_fonts; then
  exit 0
fi
command -v apt-get >/dev/null || { echo "error: Pango or the report fonts are missing and there is no apt-get to install them" >&2; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing Debian's Pango and fonts for the convention reports (WeasyPrint)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libfontconfig1 fonts-dejavu-core fonts-noto-core >/dev/null
have_pango || { echo "error: Pango still missing after apt-get install libpango-1.0-0" >&2; exit 1; }
