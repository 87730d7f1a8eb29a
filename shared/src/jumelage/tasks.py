"""Background tasks whose failure is never lost.

An ``asyncio`` task that raises and is never awaited only says so when it is
garbage-collected ("Task exception was never retrieved"), if ever, without the
service's context. Every task the services start goes through :func:`spawn`:
a done-callback retrieves its exception at once and logs it, with the task's
name. Whoever awaits the task still gets the exception as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from jumelage.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")


def spawn(coroutine: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    task = asyncio.create_task(coroutine, name=name)
    task.add_done_callback(log_failure)
    return task


def log_failure(task: asyncio.Task[Any]) -> None:
    """A done-callback: retrieve the task's exception, and log it if there is one."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task failed", task=task.get_name(), error=type(exc).__name__,
                  exc_info=(type(exc), exc, exc.__traceback__))
