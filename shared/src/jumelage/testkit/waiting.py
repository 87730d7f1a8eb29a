"""Waiting on a condition, never for a fixed time: ``eventually`` (async), ``wait_until``
(plain code), and the limits, scaled by ``JUMELAGE_TEST_TIMEOUT_SCALE`` on a slow machine."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

# Long enough for two busy cores shared with other work: a condition that holds
# is seen at once, so only a failing test waits this long.
WAIT_LIMIT = 60.0


def timeout_scale() -> float:
    """``JUMELAGE_TEST_TIMEOUT_SCALE`` (default 1): every limit of the test kit is multiplied by it."""
    return float(os.environ.get("JUMELAGE_TEST_TIMEOUT_SCALE") or 1)


def scaled(seconds: float) -> float:
    """A limit on how long a test waits for something, scaled for a slow or busy machine.

    A limit is only where a test gives up: tests wait on a condition, never for a
    fixed time, so a generous limit costs nothing when the machine is quick."""
    return seconds * timeout_scale()


async def eventually(check: Callable[[], Any], timeout: float = WAIT_LIMIT, interval: float = 0.05) -> Any:
    """Await ``check()`` until it returns a truthy value; fail with its last value.

    ``timeout`` is scaled by ``JUMELAGE_TEST_TIMEOUT_SCALE``."""
    limit = scaled(timeout)
    deadline = asyncio.get_running_loop().time() + limit
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {limit}s (last value: {last!r})")
        await asyncio.sleep(interval)


def wait_until(check: Callable[[], Any], timeout: float = WAIT_LIMIT, interval: float = 0.1,
               what: str = "condition") -> Any:
    """:func:`eventually` for code without an event loop (real processes driven from a plain test)."""
    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {limit}s (last value: {last!r})")
        time.sleep(interval)


async def holds_within(check: Callable[[], Any], timeout: float, interval: float = 0.1) -> bool:
    """Whether ``check()`` (awaited if a coroutine) turns truthy within ``timeout`` seconds,
    not scaled: for the scripts, which report a step that did not finish rather than fail.
    A check that raises counts as not yet (a server restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return True
        except Exception:
            pass
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
