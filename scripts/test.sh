#!/usr/bin/env bash
# The test command: install, make sure the broker, the database and the browser are there, run the suite
# (every database test on SQLite and on PostgreSQL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/ensure-servers.sh
scripts/ensure-browser.sh  # Debian's chromium for the web app's browser tests (apt-get when missing)
scripts/tools.sh  # the AsyncAPI CLI tests/test_catalogue.py validates with (npm, pinned; when missing)
# Three workers on two cores: most of the suite's time is spent waiting on started
# processes, the broker and PostgreSQL. One file stays on one worker (module-scoped
# stacks). TEST_WORKERS=0 runs it in this process.
exec .venv/bin/pytest -n "${TEST_WORKERS:-3}" --dist loadfile "$@"
