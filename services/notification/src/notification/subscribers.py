"""FastStream side: which incoming events this service handles (envelope -> handler)."""

from __future__ import annotations

from jumelage.events import (
    ConsultationHeld, ConventionAmended, ConventionExpired, ConventionResumed, ConventionSigned,
    ConventionSuspended, ConventionTerminated, InstitutionRegistered, MissionCancelled, MissionCompleted,
    MissionRescheduled, MissionScheduled, MissionStarted, SurgeryCancelled, SurgeryCompleted, SurgeryRescheduled,
    SurgeryScheduled, TrainingSessionHeld, registry,
)
from jumelage.messaging.consumer import EventHandler
from notification import handlers

EVENT_HANDLERS: dict[type, EventHandler] = {
    InstitutionRegistered: handlers.record_institution,
    ConventionSigned: handlers.on_convention_signed,
    ConventionAmended: handlers.on_convention_amended,
    ConventionSuspended: handlers.on_convention_status,
    ConventionResumed: handlers.on_convention_status,
    ConventionTerminated: handlers.on_convention_status,
    ConventionExpired: handlers.on_convention_status,
    MissionScheduled: handlers.on_mission_scheduled,
    MissionRescheduled: handlers.on_mission_rescheduled,
    MissionCancelled: handlers.on_mission_status,
    MissionStarted: handlers.on_mission_status,
    MissionCompleted: handlers.on_mission_status,
    SurgeryScheduled: handlers.on_surgery_scheduled,
    SurgeryRescheduled: handlers.on_surgery_rescheduled,
    SurgeryCancelled: handlers.on_surgery_cancelled,
    SurgeryCompleted: handlers.on_surgery_completed,
    ConsultationHeld: handlers.on_activity,
    TrainingSessionHeld: handlers.on_activity,
}

# Project additions to the contract, handled when the shared package defines them.
for _name, _handler in (
    ("InstitutionUpdated", handlers.record_institution),  # the whole new state: an upsert
    ("MissionSuspended", handlers.on_mission_status),
    ("MissionResumed", handlers.on_mission_status),
):
    if _name in registry:
        EVENT_HANDLERS[registry.by_type(_name)] = _handler
