#!/usr/bin/env bash
# The test command: install, make sure the broker, the database and the browser are there, run the suite
# (every database test on SQLite and on PostgreSQL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/ensure-servers.sh
scripts/ensure-browser.sh  # Debian's chromium for the web app's browser tests (apt-get when missing)
# Bytecode kept even where the environment sets PYTHONDONTWRITEBYTECODE (CI does): else
# every service process the suite starts compiles the project again, and every worker
# re-rewrites the asserts of every test module it collects (13 s of CPU, 6 s cached).
export PYTHONDONTWRITEBYTECODE=
.venv/bin/python -m compileall -q -j 0 shared/src services/*/src
scripts/tools.sh  # the AsyncAPI CLI tests/test_catalogue.py validates with (npm, pinned; when missing)
# Three workers on two cores: most of the suite's time is spent waiting on started
# processes, the broker and PostgreSQL. One file stays on one worker (module-scoped
# stacks), heaviest files first (jumelage.testkit.plugin orders them; xdist's own
# reorder, by number of tests, would put the few long ones last). TEST_WORKERS=0 runs
# it in this process.
exec .venv/bin/pytest -n "${TEST_WORKERS:-3}" --dist loadfile --no-loadscope-reorder "$@"
