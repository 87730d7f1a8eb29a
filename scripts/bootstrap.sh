#!/usr/bin/env bash
# Create .venv and install the shared package and the three services, editable,
# with the test dependencies (shared's "test" extra, which includes "kit"), pinned by constraints.txt. Quiet when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/assets.sh  # the web app's front-end assets (npm, pinned)
scripts/ensure-pango.sh  # Pango and fonts for the convention reports (WeasyPrint; apt-get when missing)
PYTHON=${PYTHON:-python3}
stamp=.venv/.installed
inputs=$(cat constraints.txt shared/pyproject.toml services/*/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
echo "installing shared + services (editable) into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
  -e "shared[test,bench]" -e services/convention -e services/scheduling -e services/notification -e services/web
echo "$inputs" > "$stamp"
