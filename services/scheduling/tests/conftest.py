"""Fixtures of the scheduling service's tests (see ``scheduling_testkit``)."""

from __future__ import annotations

import sys
from pathlib import Path

# The tests import the kit's constants and harness; pytest's importlib mode does
# not put this folder on the path by itself.
sys.path.insert(0, str(Path(__file__).parent))

from scheduling_testkit import clock, programme, service  # noqa: E402, F401  (fixtures)
