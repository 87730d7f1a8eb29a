"""Live updates: events from the exchange, fanned out to the pages open in this
process, as server-sent events.

An open page listens for the records it shows (a convention, a mission): an
event that names one of them reaches it as its type and time only, and the page
fetches its changed part again through the services, with the person's token.
So nothing reaches a browser that its person could not read anyway.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jumelage.logging import get_logger

log = get_logger(__name__)

QUEUE_DEPTH = 64  # events a slow page may lag behind before it is told to reload


@dataclass(frozen=True)
class LiveEvent:
    id: str
    type: str
    time: str
    refs: frozenset[str]  # every record id the event names

    def sse(self) -> str:
        data = json.dumps({"id": self.id, "type": self.type, "time": self.time})
        return f"event: changed\nid: {self.id}\ndata: {data}\n\n"


def record_ids(data: Any) -> set[str]:
    """Every id an event's data names (``…_id`` fields, ``…_ids`` lists), at any depth."""
    found: set[str] = set()
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(value, str) and (key == "id" or key.endswith("_id")):
                found.add(value)
            elif isinstance(value, list) and key.endswith("_ids"):
                found |= {v for v in value if isinstance(v, str)}
            elif isinstance(value, (Mapping, list)):
                found |= record_ids(value)
    elif isinstance(data, list):
        for item in data:
            found |= record_ids(item)
    return found


class _Listener:
    def __init__(self, topics: frozenset[str]) -> None:
        self.topics = topics
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(QUEUE_DEPTH)
        self.lagging = False  # it missed events: it is told to reload the page


class LiveHub:
    def __init__(self) -> None:
        self._listeners: set[_Listener] = set()
        self.received = 0

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def publish(self, event: LiveEvent) -> int:
        """Hand ``event`` to every page listening for a record it names; returns how many."""
        self.received += 1
        reached = 0
        for listener in list(self._listeners):
            if listener.topics & event.refs:
                try:
                    listener.queue.put_nowait(event)
                    reached += 1
                except asyncio.QueueFull:  # a page that stopped reading must not hold up the others
                    listener.lagging = True
        return reached

    async def listen(self, topics: Iterable[str], *, heartbeat: float = 15.0) -> AsyncIterator[str]:
        """Server-sent event lines for ``topics`` until the page goes away."""
        listener = _Listener(frozenset(topics))
        self._listeners.add(listener)
        try:
            yield "retry: 3000\n: listening\n\n"
            while not listener.lagging:
                try:
                    event = await asyncio.wait_for(listener.queue.get(), heartbeat)
                except TimeoutError:
                    yield ": still here\n\n"  # keeps proxies from closing an idle stream
                    continue
                yield event.sse()
            yield "event: reload\ndata: {}\n\n"
        finally:
            self._listeners.discard(listener)
