"""``EventTap``: every event on an exchange, as the outside world sees it (a queue of its
own bound to ``#``), for a test to wait on or a demo to print."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika

from jumelage.testkit.waiting import WAIT_LIMIT, scaled


@dataclass
class EventTap:
    """The messages seen so far, in the order they arrived."""

    messages: list[aio_pika.abc.AbstractIncomingMessage] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.messages]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies() if b.get("type") == event_type]

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool],
                       timeout: float = WAIT_LIMIT) -> None:
        """Until ``predicate(bodies)`` holds (``timeout`` scaled by ``JUMELAGE_TEST_TIMEOUT_SCALE``)."""
        async def until() -> None:
            while not predicate(self.bodies()):
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(until(), scaled(timeout))
        except TimeoutError:
            seen = [b.get("type") for b in self.bodies()]
            raise AssertionError(f"events not seen within {scaled(timeout)}s; the tap has {seen}") from None


@contextlib.asynccontextmanager
async def event_tap(amqp_url: str, exchange_name: str,
                    on_event: Callable[[dict[str, Any]], None] | None = None) -> AsyncIterator[EventTap]:
    """A tap on ``exchange_name`` (declared if absent) until the block ends; ``on_event``
    is called with each body as it arrives."""
    tap = EventTap()
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        ex = await ch.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue("", exclusive=True)
        await q.bind(ex, "#")

        async def on_message(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
            await msg.ack()
            tap.messages.append(msg)
            if on_event is not None:
                on_event(json.loads(msg.body))
            tap._arrived.set()

        await q.consume(on_message)
        yield tap
    finally:
        await conn.close()  # ends the consumer with the connection: no cancel left half-done
