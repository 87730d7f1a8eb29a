"""The event contract (docs/events.md, the repository's own) as typed models.

Importing this package registers every event type its modules define; use :data:`registry` to go
from a type name or routing key to its model, and to parse bytes off the wire.
"""

from jumelage.events.envelope import (
    CONTENT_TYPE,
    CloudEvent,
    EventData,
    envelope_model,
    new_envelope,
    routing_key_for,
    serialized,
)
from jumelage.events.registry import (
    EventParseError,
    EventRegistry,
    InvalidEvent,
    UnknownEventType,
    registry,
)
from jumelage.events.convention import *  # noqa: F403  (registers the types)
from jumelage.events.scheduling import *  # noqa: F403
from jumelage.events.notification import *  # noqa: F403
from jumelage.events import convention, notification, scheduling

registry.register_defined()  # every type the three modules define

EXCHANGE = "jumelage.events"

__all__ = [
    "CONTENT_TYPE",
    "EXCHANGE",
    "CloudEvent",
    "EventData",
    "EventParseError",
    "EventRegistry",
    "InvalidEvent",
    "UnknownEventType",
    "envelope_model",
    "new_envelope",
    "registry",
    "routing_key_for",
    "serialized",
    *convention.__all__,
    *scheduling.__all__,
    *notification.__all__,
]
