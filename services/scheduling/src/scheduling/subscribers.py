"""Which incoming events this service handles (wire event type -> handler); the bus binds their dependencies."""

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
from jumelage.bus import Handler
from jumelage.replica import record_institution

EVENTS: dict[type, Handler] = {
    InstitutionRegistered: record_institution,
    InstitutionUpdated: record_institution,  # the whole new state: the same upsert
    ConventionSigned: handlers.convention_signed,
    ConventionAmended: handlers.convention_amended,
    ConventionSuspended: handlers.convention_suspended,
    ConventionResumed: handlers.convention_resumed,
    ConventionTerminated: handlers.convention_terminated,
    ConventionExpired: handlers.convention_expired,
}
