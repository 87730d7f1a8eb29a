"""Fixtures of the web app's tests (see ``web_testkit``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The tests import the kit by its own name: under importlib mode "conftest" may be another folder's.
sys.path.insert(0, str(Path(__file__).parent))

from web_testkit import database, mail, stack  # noqa: E402, F401  (fixtures)


@pytest.fixture
def namespace(declared_namespace: str) -> str:
    """The tests here start the services and the web app and look at what they do, not at
    how the topology came to be: a namespace whose topology is already declared
    (``declared_namespace``: 0.3-0.6 s less per stack), not a fresh one. The web app's own
    queue is exclusive: it goes with the app, and leaves the namespace reusable."""
    return declared_namespace
