"""Background tasks: a failure is retrieved and logged at once, with the task's name."""

from __future__ import annotations

import asyncio
import gc

import pytest
import structlog

from jumelage.tasks import spawn


async def test_a_failed_background_task_is_logged_at_once_and_never_left_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails() -> None:
        raise ValueError("Invalid isoformat string: ''")

    async def is_cancelled() -> None:
        await asyncio.sleep(3600)

    with structlog.testing.capture_logs() as logs:
        task = spawn(fails(), name="deliver-handed-over")
        cancelled = spawn(is_cancelled(), name="waits")
        await asyncio.wait([task])
        cancelled.cancel()
        await asyncio.wait([cancelled])
        await asyncio.sleep(0)  # done-callbacks run on the next turn of the loop
    assert [(e["event"], e["task"], e["error"]) for e in logs] == [
        ("background task failed", "deliver-handed-over", "ValueError")]
    del task, cancelled
    gc.collect()
    assert "never retrieved" not in caplog.text
