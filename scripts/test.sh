#!/usr/bin/env bash
# The test command: install, make sure the broker and database run, run the suite
# (every database test on SQLite and on PostgreSQL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/ensure-servers.sh
exec .venv/bin/pytest "$@"
