"""Which incoming events this service handles: wire event type -> handler (bound by the bus)."""

from __future__ import annotations

from jumelage.events import (
    ConsultationHeld, ConventionAmended, ConventionExpired, ConventionResumed, ConventionSigned,
    ConventionSuspended, ConventionTerminated, InstitutionRegistered, MissionCancelled, MissionCompleted,
    MissionRescheduled, MissionScheduled, MissionStarted, SurgeryCancelled, SurgeryCompleted, SurgeryRescheduled,
    SurgeryScheduled, TrainingSessionHeld, registry,
)
from jumelage.messaging.consumer import EventHandler
from notification.handlers import contacts, institutions, programme

EVENTS: dict[type, EventHandler] = {
    InstitutionRegistered: institutions.record_institution,
    ConventionSigned: programme.on_convention_signed,
    ConventionAmended: programme.on_convention_amended,
    ConventionSuspended: programme.on_convention_status,
    ConventionResumed: programme.on_convention_status,
    ConventionTerminated: programme.on_convention_status,
    ConventionExpired: programme.on_convention_status,
    MissionScheduled: programme.on_mission_scheduled,
    MissionRescheduled: programme.on_mission_rescheduled,
    MissionCancelled: programme.on_mission_status,
    MissionStarted: programme.on_mission_status,
    MissionCompleted: programme.on_mission_status,
    SurgeryScheduled: programme.on_surgery_scheduled,
    SurgeryRescheduled: programme.on_surgery_rescheduled,
    SurgeryCancelled: programme.on_surgery_cancelled,
    SurgeryCompleted: programme.on_surgery_completed,
    ConsultationHeld: programme.on_activity,
    TrainingSessionHeld: programme.on_activity,
}

# Project additions to the contract, handled when the shared package defines them.
for _name, _handler in (
    ("InstitutionUpdated", institutions.record_institution),  # the whole new state: an upsert
    ("MissionSuspended", programme.on_mission_status),
    ("MissionResumed", programme.on_mission_status),
    ("SurgerySuspended", programme.on_surgery_suspended),
    ("SurgeryResumed", programme.on_surgery_resumed),
    ("ConsultationSuspended", programme.on_consultation_hold),
    ("ConsultationResumed", programme.on_consultation_hold),
    ("MissionTeamChanged", programme.on_mission_team_changed),
    ("SurgeryLeadChanged", programme.on_surgery_lead_changed),
    ("MissionSitesChanged", programme.on_mission_sites_changed),
    ("PatientIdentityErased", contacts.on_patient_identity_erased),  # the family's contact details go
    ("SurgeryFollowedUp", programme.on_surgery_followed_up),
):
    if _name in registry:
        EVENTS[registry.by_type(_name)] = _handler
