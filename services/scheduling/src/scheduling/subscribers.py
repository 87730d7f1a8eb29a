"""FastStream side: which incoming events this service handles (envelope -> handler)."""

from __future__ import annotations

from scheduling import handlers
from jumelage.events import InstitutionRegistered
from jumelage.messaging.consumer import EventHandler

EVENT_HANDLERS: dict[type, EventHandler] = {
    InstitutionRegistered: handlers.record_institution,
}
