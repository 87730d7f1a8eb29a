"""FastStream side: which incoming events this service handles (envelope -> handler)."""

from __future__ import annotations

from scheduling import handlers
from jumelage.events import (
    ConventionAmended,
    ConventionExpired,
    ConventionResumed,
    ConventionSigned,
    ConventionSuspended,
    ConventionTerminated,
    InstitutionRegistered,
    InstitutionUpdated,
)
from jumelage.messaging.consumer import EventHandler

EVENT_HANDLERS: dict[type, EventHandler] = {
    InstitutionRegistered: handlers.record_institution,
    InstitutionUpdated: handlers.record_institution,  # the whole new state: the same upsert
    ConventionSigned: handlers.convention_signed,
    ConventionAmended: handlers.convention_amended,
    ConventionSuspended: handlers.convention_suspended,
    ConventionResumed: handlers.convention_resumed,
    ConventionTerminated: handlers.convention_terminated,
    ConventionExpired: handlers.convention_expired,
}
