"""FastStream side: every event on the exchange, through a queue of the web
app's own, to the pages open in this process (``adapters.live``).

The queue is this process's alone (exclusive, deleted when it goes): each
replica of the web app must see every event for the pages it serves. It keeps
nothing: a page that was closed when an event passed reads the services again
when it opens, so a live update lost in a restart loses nothing.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitQueue

from jumelage.logging import get_logger
from jumelage.messaging.topology import Topology, topic_exchange
from web.adapters.live import LiveEvent, LiveHub, record_ids

log = get_logger(__name__)


def live_queue(topology: Topology) -> RabbitQueue:
    name = f"{topology.namespace}web.live.{socket.gethostname()}.{os.getpid()}"
    return RabbitQueue(name, durable=False, exclusive=True, auto_delete=True, routing_key="#")


def live_event(envelope: dict[str, Any]) -> LiveEvent | None:
    """What a page may learn of an event: its type, time and the records it names."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
        return None
    data = envelope.get("data")
    refs = record_ids(data) if isinstance(data, dict) else set()
    subject = envelope.get("subject")
    if isinstance(subject, str) and "/" in subject:
        refs.add(subject.rsplit("/", 1)[1])
    return LiveEvent(id=str(envelope.get("id", "")), type=envelope["type"][:100], time=str(envelope.get("time", "")),
                     refs=frozenset(refs))


def subscribe(broker: RabbitBroker, topology: Topology, hub: LiveHub) -> None:
    @broker.subscriber(live_queue(topology), topic_exchange(topology.exchange_name, passive=topology.passive),
                       ack_policy=AckPolicy.ACK_FIRST,  # nothing to commit: a lost live update costs a reload
                       title="web.live", description="every event, for the pages open in this process")
    async def on_event(body: bytes) -> None:
        # application/cloudevents+json: FastStream hands over the bytes, decoded here.
        try:
            envelope = json.loads(body)
        except ValueError:
            log.warning("live update: not JSON, ignored", size=len(body))
            return
        event = live_event(envelope)
        if event is not None:
            hub.publish(event)
