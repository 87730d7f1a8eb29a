"""The one mapper per wire event this service emits: aggregate (and what it needs) -> event data.

The aggregates call them when something happens (``self.happened(events.x(self, ...))``);
handlers hand the aggregates to ``uow.record_from(...)``. Nothing else builds these events.
Pure: no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from jumelage.events.scheduling import (
    CancellationCause,
    ConsultationHeld,
    ConsultationResumed,
    ConsultationSuspended,
    MissionCancelled,
    MissionCompleted,
    MissionRescheduled,
    MissionResumed,
    MissionScheduled,
    MissionSite,
    MissionSitesChanged,
    MissionStarted,
    MissionSuspended,
    MissionTeamChanged,
    ErasureReason,
    PatientIdentityErased,
    SurgeryCancelled,
    SurgeryCompleted,
    SurgeryFollowedUp,
    LocalPractitionerRole,
    SurgeryLeadChanged,
    SurgeryRescheduled,
    SurgeryResumed,
    SurgeryScheduled,
    SurgerySuspended,
    SiteChange,
    TeamChange,
    TeamMember,
    Totals,
    Trainee,
    TrainingPlacementCompleted,
    TrainingSessionHeld,
)

from scheduling.domain.values import UNFIT_REASON

# What the mappers read of each aggregate. Protocols, not the aggregates' classes: the
# aggregates import this module to record what happened to them, and nothing here
# imports them back (no import circle).


class Mission(Protocol):
    id: uuid.UUID
    convention_id: uuid.UUID
    host_institution_id: uuid.UUID
    visiting_institution_id: uuid.UUID
    specialty: str
    starts_on: date
    ends_on: date
    team: Sequence[Any]
    sites: Sequence[Any]
    status_reason: str | None
    totals: Any

    def site_days(self, site: Any) -> tuple[date, date]: ...


class Surgery(Protocol):
    id: uuid.UUID
    mission_id: uuid.UUID
    patient_ref: str
    procedure: str
    operating_room: str
    scheduled_start: datetime
    expected_duration_minutes: int
    lead_surgeon_id: uuid.UUID
    site_institution_id: uuid.UUID
    status_reason: str | None
    completed_at: datetime | None
    duration_minutes: int | None
    outcome: Any
    lead_side: Any
    local_roles: Sequence[Any]
    follow_up_outcome: Any
    followed_up_on: date | None
    follow_up_days: int | None
    risk_scheme: Any
    risk_category: int | None


class PatientCase(Protocol):
    referred_abroad: bool
    patient_ref: str
    risk_scheme: Any
    risk_category: int | None


class Consultation(Protocol):
    id: uuid.UUID
    mission_id: uuid.UUID
    patient_ref: str
    specialty: str
    scheduled_at: datetime
    held_at: datetime | None
    site_institution_id: uuid.UUID


class TrainingSession(Protocol):
    id: uuid.UUID
    mission_id: uuid.UUID
    topic: str
    held_at: datetime | None
    hours: float
    trainee_count: int | None


# -- missions -------------------------------------------------------------------------------------


def _member(t: Any, m: Mission) -> TeamMember:
    return TeamMember(practitioner_id=t.practitioner_id, full_name=t.full_name, role=t.role,
                      home_institution_id=t.home_institution_id or m.visiting_institution_id,
                      arrives_on=t.arrives_on, leaves_on=t.leaves_on)


def _sites(m: Mission) -> list[MissionSite]:
    return [MissionSite(institution_id=s.institution_id, starts_on=m.site_days(s)[0], ends_on=m.site_days(s)[1])
            for s in m.sites]


def mission_scheduled(m: Mission) -> MissionScheduled:
    return MissionScheduled(
        mission_id=m.id, convention_id=m.convention_id, host_institution_id=m.host_institution_id,
        visiting_institution_id=m.visiting_institution_id, specialty=m.specialty,
        starts_on=m.starts_on, ends_on=m.ends_on, team=[_member(t, m) for t in m.team], sites=_sites(m),
    )


def mission_sites_changed(m: Mission, institution_id: uuid.UUID, change: str) -> MissionSitesChanged:
    return MissionSitesChanged(mission_id=m.id, convention_id=m.convention_id, change=SiteChange(change),
                               institution_id=institution_id, sites=_sites(m))


def mission_team_changed(m: Mission, change: TeamChange, member: Any) -> MissionTeamChanged:
    return MissionTeamChanged(mission_id=m.id, convention_id=m.convention_id, change=change,
                              practitioner_id=member.practitioner_id, team=[_member(t, m) for t in m.team])


def mission_rescheduled(m: Mission, reason: str) -> MissionRescheduled:
    return MissionRescheduled(mission_id=m.id, starts_on=m.starts_on, ends_on=m.ends_on, reason=reason,
                              sites=_sites(m))


def mission_cancelled(m: Mission) -> MissionCancelled:
    assert m.status_reason is not None  # a cancelled mission says why
    return MissionCancelled(mission_id=m.id, reason=m.status_reason)


def mission_suspended(m: Mission) -> MissionSuspended:
    assert m.status_reason is not None  # a mission on hold says why
    return MissionSuspended(mission_id=m.id, convention_id=m.convention_id, reason=m.status_reason)


def mission_resumed(m: Mission) -> MissionResumed:
    return MissionResumed(mission_id=m.id, convention_id=m.convention_id)


def mission_started(m: Mission) -> MissionStarted:
    return MissionStarted(mission_id=m.id, convention_id=m.convention_id)


def mission_completed(m: Mission) -> MissionCompleted:
    assert m.totals is not None  # set when it completes
    t = m.totals
    return MissionCompleted(mission_id=m.id, convention_id=m.convention_id, totals=Totals(
        surgeries=t.surgeries, consultations=t.consultations, training_sessions=t.training_sessions))


# -- surgeries ------------------------------------------------------------------------------------


def surgery_scheduled(s: Surgery, mission: Mission) -> SurgeryScheduled:
    return SurgeryScheduled(
        surgery_id=s.id, mission_id=s.mission_id, convention_id=mission.convention_id, patient_ref=s.patient_ref,
        procedure=s.procedure, operating_room=s.operating_room, scheduled_start=s.scheduled_start,
        expected_duration_minutes=s.expected_duration_minutes, lead_surgeon_id=s.lead_surgeon_id,
        site_institution_id=s.site_institution_id,
    )


def surgery_rescheduled(s: Surgery, reason: str) -> SurgeryRescheduled:
    return SurgeryRescheduled(surgery_id=s.id, operating_room=s.operating_room, scheduled_start=s.scheduled_start,
                              reason=reason, site_institution_id=s.site_institution_id)


def surgery_lead_changed(s: Surgery, previous: uuid.UUID, reason: str) -> SurgeryLeadChanged:
    return SurgeryLeadChanged(surgery_id=s.id, mission_id=s.mission_id, previous_lead_surgeon_id=previous,
                              lead_surgeon_id=s.lead_surgeon_id, reason=reason)


def surgery_cancelled(s: Surgery) -> SurgeryCancelled:
    assert s.status_reason is not None  # a cancelled surgery says why
    cause = CancellationCause.not_ready if s.status_reason == UNFIT_REASON else None
    return SurgeryCancelled(surgery_id=s.id, mission_id=s.mission_id, reason=s.status_reason, cause=cause)


def surgery_suspended(s: Surgery, mission: Mission) -> SurgerySuspended:
    assert mission.status_reason is not None  # a mission on hold says why
    return SurgerySuspended(surgery_id=s.id, mission_id=s.mission_id, convention_id=mission.convention_id,
                            patient_ref=s.patient_ref, operating_room=s.operating_room,
                            scheduled_start=s.scheduled_start, reason=mission.status_reason)


def surgery_resumed(s: Surgery, mission: Mission) -> SurgeryResumed:
    return SurgeryResumed(surgery_id=s.id, mission_id=s.mission_id, convention_id=mission.convention_id,
                          patient_ref=s.patient_ref, operating_room=s.operating_room,
                          scheduled_start=s.scheduled_start)


def surgery_completed(s: Surgery, mission: Mission, case: PatientCase) -> SurgeryCompleted:
    assert s.completed_at is not None and s.duration_minutes is not None and s.outcome
    return SurgeryCompleted(
        surgery_id=s.id, mission_id=s.mission_id, convention_id=mission.convention_id, patient_ref=s.patient_ref,
        procedure=s.procedure, completed_at=s.completed_at, duration_minutes=s.duration_minutes, outcome=s.outcome,
        previously_referred_abroad=case.referred_abroad, specialty=mission.specialty,
        lead_side=s.lead_side, local_roles=[_local_part(p, mission) for p in s.local_roles],
        risk_scheme=case.risk_scheme.value, risk_category=case.risk_category,
        site_institution_id=s.site_institution_id,
    )


def _local_part(p: Any, mission: Mission) -> LocalPractitionerRole:
    member = next((m for m in mission.team if m.practitioner_id == p.practitioner_id), None)
    return LocalPractitionerRole(practitioner_ref=str(p.practitioner_id), role=p.role,
                                 full_name=member.full_name if member else None)


def surgery_followed_up(s: Surgery, mission: Mission) -> SurgeryFollowedUp:
    assert s.completed_at is not None and s.followed_up_on is not None and s.follow_up_days is not None
    return SurgeryFollowedUp(
        surgery_id=s.id, mission_id=s.mission_id, convention_id=mission.convention_id, outcome=s.follow_up_outcome,
        completed_at=s.completed_at, followed_up_on=s.followed_up_on, days_after_surgery=s.follow_up_days,
        risk_scheme=s.risk_scheme.value if s.risk_scheme else None, risk_category=s.risk_category,
        specialty=mission.specialty,
    )


# -- consultations and training sessions ----------------------------------------------------------


def consultation_held(c: Consultation, mission: Mission) -> ConsultationHeld:
    assert c.held_at is not None
    return ConsultationHeld(consultation_id=c.id, mission_id=c.mission_id, convention_id=mission.convention_id,
                            patient_ref=c.patient_ref, specialty=c.specialty, held_at=c.held_at,
                            site_institution_id=c.site_institution_id)


def consultation_suspended(c: Consultation, mission: Mission) -> ConsultationSuspended:
    assert mission.status_reason is not None  # a mission on hold says why
    return ConsultationSuspended(consultation_id=c.id, mission_id=c.mission_id, convention_id=mission.convention_id,
                                 patient_ref=c.patient_ref, scheduled_at=c.scheduled_at,
                                 reason=mission.status_reason)


def consultation_resumed(c: Consultation, mission: Mission) -> ConsultationResumed:
    return ConsultationResumed(consultation_id=c.id, mission_id=c.mission_id, convention_id=mission.convention_id,
                               patient_ref=c.patient_ref, scheduled_at=c.scheduled_at)


def training_session_held(t: TrainingSession, mission: Mission) -> TrainingSessionHeld:
    assert t.held_at is not None and t.trainee_count is not None
    return TrainingSessionHeld(training_session_id=t.id, mission_id=t.mission_id,
                               convention_id=mission.convention_id, topic=t.topic, held_at=t.held_at,
                               hours=t.hours, trainee_count=t.trainee_count,
                               site_institution_id=t.site_institution_id or mission.host_institution_id)


# -- training placements (outside any mission) ------------------------------------------------------


class TrainingPlacement(Protocol):
    id: uuid.UUID
    convention_id: uuid.UUID
    kind: Any
    specialty: str
    provider_institution_id: uuid.UUID
    beneficiary_institution_id: uuid.UUID
    starts_on: date
    ends_on: date
    days_spent: int | None
    trainees: Sequence[Any]


def training_placement_completed(p: TrainingPlacement) -> TrainingPlacementCompleted:
    assert p.days_spent is not None  # set when it completes
    return TrainingPlacementCompleted(
        placement_id=p.id, convention_id=p.convention_id, kind=p.kind, specialty=p.specialty,
        provider_institution_id=p.provider_institution_id, beneficiary_institution_id=p.beneficiary_institution_id,
        starts_on=p.starts_on, ends_on=p.ends_on, days_spent=p.days_spent,
        trainees=[Trainee(practitioner_id=t.practitioner_id, full_name=t.full_name) for t in p.trainees])


def patient_identity_erased(c: PatientCase, reason: ErasureReason) -> PatientIdentityErased:
    """The reference only: whoever listens learns that this patient's identity is gone, never what it was."""
    return PatientIdentityErased(patient_ref=c.patient_ref, reason=reason)
