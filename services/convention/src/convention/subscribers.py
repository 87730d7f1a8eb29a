"""FastStream side: which incoming events this service handles (envelope -> handler)."""

from __future__ import annotations

from jumelage.messaging.consumer import EventHandler

# Progress events (SurgeryCompleted, ...) are handled from the progress issue on.
EVENT_HANDLERS: dict[type, EventHandler] = {}
