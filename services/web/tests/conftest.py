"""Fixtures of the web app's tests (see ``web_testkit``)."""

from __future__ import annotations

import sys
from pathlib import Path

# The tests import the kit by its own name: under importlib mode "conftest" may be another folder's.
sys.path.insert(0, str(Path(__file__).parent))

from web_testkit import database, mail, stack  # noqa: E402, F401  (fixtures)
