"""The dead-letter desk: what waits in a service queue's ``<queue>.dlq``, and why.

``queue_depth`` is what the ``jumelage_dlq_depth`` gauge reads at each scrape.
"""

from __future__ import annotations

from typing import Any


async def queue_depth(broker: Any, name: str) -> int:
    """Messages ready in queue ``name`` (a passive declare on a channel of its own:
    a missing queue closes that channel only)."""
    connection = broker._connection  # FastStream's aio-pika connection (robust, reconnecting)
    if connection is None:
        raise ConnectionError("broker not connected")
    async with connection.channel() as channel:
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)
