"""Fixtures of the shared package's tests (helpers in ``effects``)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# The tests import the helpers module; pytest's importlib mode does not put this
# folder on the path by itself.
sys.path.insert(0, str(Path(__file__).parent))

from effects import effect_sessions  # noqa: E402

from jumelage.testkit.servers import Database  # noqa: E402


@pytest.fixture
async def sessions(database: Database) -> AsyncIterator[Any]:
    """Sessions on the test's database (SQLite and PostgreSQL), effect table included."""
    async with effect_sessions(database.url, database.schema) as factory:
        yield factory
