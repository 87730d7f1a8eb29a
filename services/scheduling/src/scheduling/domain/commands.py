"""Every command and query this service's bus handles (the API builds them; handlers take them).

Commands carry no time: a handler that needs "now" gets the clock from the bus.
``expected``, on the changes of an existing record, is the caller's If-Match, checked
on the record as locked for the change. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from scheduling.domain.values import (
    CaseStatus,
    LocalPart,
    MissionSite,
    MissionStatus,
    PatientIdentity,
    Purpose,
    ReadinessItem,
    RiskScheme,
    SurgeryStatus,
    TeamMember,
)
from jumelage.events.scheduling import FollowUpOutcome, SurgeryOutcome


# -- institutions' resources -----------------------------------------------------------------------


@dataclass(frozen=True)
class SetResources:
    institution_id: uuid.UUID
    timezone: str
    icu_beds: int


@dataclass(frozen=True)
class OpenRoom:
    institution_id: uuid.UUID
    name: str
    opens_at: time
    closes_at: time
    turnover_minutes: int | None = None  # None: the mission's specialty's default


@dataclass(frozen=True)
class ChangeRoom:
    room_id: uuid.UUID
    name: str | None = None
    opens_at: time | None = None
    closes_at: time | None = None
    turnover_minutes: int | None = None
    default_turnover: bool = False  # back to the specialty's default
    institution_id: uuid.UUID | None = None  # the route's: the room must be this institution's


@dataclass(frozen=True)
class RemoveRoom:
    institution_id: uuid.UUID
    room_id: uuid.UUID


@dataclass(frozen=True)
class GetResources:
    """A host's resources and its rooms (defaults where it has recorded none)."""

    institution_id: uuid.UUID


@dataclass(frozen=True)
class ListRooms:
    institution_id: uuid.UUID


# -- patient cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterCase:
    patient: PatientIdentity
    diagnosis: str
    planned_procedure: str
    priority: int
    expected_duration_minutes: int
    risk_scheme: RiskScheme = RiskScheme.none
    risk_category: int | None = None
    referred_abroad: bool = False
    host_institution_id: uuid.UUID | None = None  # a consultation's new patient: the mission's host


@dataclass(frozen=True)
class EditCase:
    """Correct a case: ``changes`` holds the fields given (``patient``: a mapping of the identity's
    fields given), as a PATCH gives them."""

    case_id: uuid.UUID
    changes: dict[str, Any]
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class CloseCase:
    case_id: uuid.UUID
    reason: str
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class CancelCase(CloseCase):
    """The case is withdrawn from the waiting list."""


@dataclass(frozen=True)
class ReferCaseElsewhere(CloseCase):
    """The patient is treated elsewhere."""


@dataclass(frozen=True)
class CheckReadiness:
    """An item of the case's readiness checklist is done (again, with a new date or label)."""

    case_id: uuid.UUID
    item: ReadinessItem
    checked_by: str  # the token's subject
    checked_on: date | None = None  # default: today, on the host's calendar
    label: str | None = None  # an ``other`` item's
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class WithdrawReadiness:
    """An item of the checklist no longer holds; a booked surgery of a case no longer ready is cancelled."""

    case_id: uuid.UUID
    item: ReadinessItem
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class AddScreeningNote:
    case_id: uuid.UUID
    text: str
    author: str  # the token's subject
    author_institution_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ScreeningNotes:
    case_id: uuid.UUID


@dataclass(frozen=True)
class WaitingListFigures:
    """A host's waiting-list figures by ``by`` (month, quarter, year) from ``first`` to ``last``
    (both included; by default from the first of January of ``last``'s year, to today on the host's
    clock); ``convention_id``: treated only in missions of that convention."""

    institution_id: uuid.UUID
    by: str
    first: date | None = None
    last: date | None = None
    convention_id: uuid.UUID | None = None


@dataclass(frozen=True)
class WaitingList:
    """A host's waiting list, most urgent first; ``name``: the cases of that patient (keyed hash)."""

    institution_id: uuid.UUID
    status: CaseStatus | None = None
    priority: int | None = None
    name: str | None = None
    limit: int = 50
    cursor: str | None = None  # keyset: where the page begins (``jumelage.db.keyset``)


@dataclass(frozen=True)
class GetCase:
    case_id: uuid.UUID
    identity: bool = False  # the caller sees the patient's identity: the read is written down


@dataclass(frozen=True)
class GiveConsent:
    """The family consents to ``purpose`` (recorded by ``by``, the token's subject)."""

    case_id: uuid.UUID
    purpose: Purpose
    by: str
    expected: Any = None  # the caller's If-Match


@dataclass(frozen=True)
class WithdrawConsent:
    case_id: uuid.UUID
    purpose: Purpose
    expected: Any = None


@dataclass(frozen=True)
class EraseIdentity:
    """A family's request (through the host's clinician or privacy officer): the identity goes."""

    case_id: uuid.UUID
    expected: Any = None


@dataclass(frozen=True)
class ExpireIdentities:
    """The retention task: pseudonymise the identity of cases closed more than ``keep_days`` ago."""

    keep_days: float
    batch: int = 200


@dataclass(frozen=True)
class AccessRequest:
    """A person's data for an access request: the case, its surgeries and who read its identity;
    the case by its id, or by its patient's reference (``case_id`` None)."""

    case_id: uuid.UUID | None
    patient_ref: str | None = None


# -- missions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleMission:
    convention_id: uuid.UUID
    host_institution_id: uuid.UUID
    visiting_institution_id: uuid.UUID
    specialty: str
    starts_on: date
    ends_on: date
    team: tuple[TeamMember, ...]
    sites: tuple[MissionSite, ...] = ()  # none: the host alone, every day of the mission



@dataclass(frozen=True)
class RescheduleMission:
    mission_id: uuid.UUID
    starts_on: date
    ends_on: date
    reason: str
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class CancelMission:
    mission_id: uuid.UUID
    reason: str
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class StartMission:
    mission_id: uuid.UUID
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class CompleteMission:
    mission_id: uuid.UUID
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class AddTeamMember:
    mission_id: uuid.UUID
    member: TeamMember
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class RemoveTeamMember:
    mission_id: uuid.UUID
    practitioner_id: uuid.UUID
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class SetMissionSite:
    """Add a host site to the mission, or change its days there (None: the mission's first / last day)."""

    mission_id: uuid.UUID
    site: MissionSite
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class RemoveMissionSite:
    mission_id: uuid.UUID
    institution_id: uuid.UUID
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class ChangeOnSiteDates:
    """A member arrives later or leaves earlier than the mission (None: its first / last day)."""

    mission_id: uuid.UUID
    practitioner_id: uuid.UUID
    arrives_on: date | None = None
    leaves_on: date | None = None
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class SearchMissions:
    """Every mission that matches; which the caller may see is the access module's to say."""

    convention_id: uuid.UUID | None = None
    host_institution_id: uuid.UUID | None = None
    status: MissionStatus | None = None
    limit: int = 50
    cursor: str | None = None  # keyset: where the page begins (``jumelage.db.keyset``)


# -- surgeries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSurgery:
    mission_id: uuid.UUID
    case_id: uuid.UUID
    operating_room_id: uuid.UUID
    scheduled_start: datetime
    lead_surgeon_id: uuid.UUID
    expected_duration_minutes: int | None = None  # default: the case's
    procedure: str | None = None  # default: the case's planned procedure
    anaesthetist_id: uuid.UUID | None = None  # a member of the team as anaesthetist; none: not assigned yet
    at_sites: frozenset[uuid.UUID] | None = None  # the sites the caller may book at (None: every one)


@dataclass(frozen=True)
class RescheduleSurgery:
    surgery_id: uuid.UUID
    scheduled_start: datetime
    reason: str
    operating_room_id: uuid.UUID | None = None  # default: the same room
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class ChangeLeadSurgeon:
    surgery_id: uuid.UUID
    lead_surgeon_id: uuid.UUID
    reason: str
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class CancelSurgery:
    surgery_id: uuid.UUID
    reason: str
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class StartSurgery:
    surgery_id: uuid.UUID
    started_at: datetime | None = None  # default: now
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class CompleteSurgery:
    surgery_id: uuid.UUID
    outcome: SurgeryOutcome
    duration_minutes: int
    completed_at: datetime | None = None  # default: now
    local_roles: tuple[LocalPart, ...] | None = None  # None: as set before (if at all)
    expected: Any = None  # the caller's If-Match (jumelage.versions.IfMatch), checked on the locked record


@dataclass(frozen=True)
class SetLocalRoles:
    """The host's practitioners' parts in a surgery, before it is completed (the whole list)."""

    surgery_id: uuid.UUID
    local_roles: tuple[LocalPart, ...]
    expected: Any = None


@dataclass(frozen=True)
class FollowUpSurgery:
    """Thirty days after: how the patient is (host's clinicians)."""

    surgery_id: uuid.UUID
    outcome: FollowUpOutcome
    expected: Any = None


@dataclass(frozen=True)
class MissionSurgeries:
    mission_id: uuid.UUID
    status: SurgeryStatus | None = None


@dataclass(frozen=True)
class GetSurgery:
    surgery_id: uuid.UUID


# -- consultations and training sessions -----------------------------------------------------------


@dataclass(frozen=True)
class ScheduleConsultation:
    mission_id: uuid.UUID
    scheduled_at: datetime
    case_id: uuid.UUID | None = None
    new_patient: RegisterCase | None = None  # registered on the waiting list of its site (default: the host)
    site_institution_id: uuid.UUID | None = None  # a new patient's site (a case's is its institution)
    at_sites: frozenset[uuid.UUID] | None = None  # the sites the caller may book at (None: every one)


@dataclass(frozen=True)
class HoldConsultation:
    consultation_id: uuid.UUID
    held_at: datetime | None = None  # default: now


@dataclass(frozen=True)
class ScheduleTraining:
    mission_id: uuid.UUID
    topic: str
    scheduled_at: datetime
    hours: float
    site_institution_id: uuid.UUID | None = None  # the host site it is held at (default: the mission's host)
    at_sites: frozenset[uuid.UUID] | None = None  # the sites the caller may plan at (None: every one)


@dataclass(frozen=True)
class HoldTraining:
    training_session_id: uuid.UUID
    trainee_count: int
    hours: float | None = None  # default: as planned
    held_at: datetime | None = None  # default: now


@dataclass(frozen=True)
class MissionConsultations:
    mission_id: uuid.UUID


@dataclass(frozen=True)
class GetConsultation:
    consultation_id: uuid.UUID


@dataclass(frozen=True)
class MissionTraining:
    mission_id: uuid.UUID


@dataclass(frozen=True)
class GetTrainingSession:
    training_session_id: uuid.UUID


# -- training placements (outside any mission) ------------------------------------------------------


@dataclass(frozen=True)
class PlanPlacement:
    convention_id: uuid.UUID
    kind: str
    specialty: str
    provider_institution_id: uuid.UUID
    beneficiary_institution_id: uuid.UUID
    starts_on: date
    ends_on: date
    trainees: tuple[Any, ...]  # domain.placements.Trainee


@dataclass(frozen=True)
class CompletePlacement:
    placement_id: uuid.UUID
    days_spent: int


@dataclass(frozen=True)
class CancelPlacement:
    placement_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class ConventionPlacements:
    convention_id: uuid.UUID


@dataclass(frozen=True)
class GetPlacement:
    placement_id: uuid.UUID


# -- the surgery plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposePlan:
    mission_id: uuid.UUID
    time_limit_seconds: float | None = None  # None: the service's default (PLANNER_* settings)
    turnover_minutes: int | None = None
    max_daily_minutes_per_surgeon: int | None = None
    case_ids: tuple[uuid.UUID, ...] | None = None  # None: every waiting case of the host
    include_unready: bool = False  # False: cases not ready are left out, with what they lack
    # (scheme, category, days): overrides of the post-operative days with the team on site
    post_operative_days: tuple[tuple[str, int | None, int], ...] = ()
    icu_beds_after_mission: int | None = None  # None: all the host's beds
    pinned_surgery_ids: tuple[uuid.UUID, ...] = ()  # the proposal never moves these
    locked_days: tuple[date, ...] = ()  # nor anything on these days, where nothing new goes


@dataclass(frozen=True)
class PlannedSurgery:
    case_id: uuid.UUID
    operating_room_id: uuid.UUID
    scheduled_start: datetime
    lead_surgeon_id: uuid.UUID
    surgery_id: uuid.UUID | None = None
    expected_duration_minutes: int | None = None
    anaesthetist_id: uuid.UUID | None = None  # the plan's proposal, recorded on a new surgery


@dataclass(frozen=True)
class ApplyPlan:
    mission_id: uuid.UUID
    assignments: tuple[PlannedSurgery, ...]
    reason: str = "mission plan re-optimised"


# -- the replica of conventions --------------------------------------------------------------------


@dataclass(frozen=True)
class ListConventions:
    """The conventions known here (a party's, if given); which the caller may see is the access module's to say."""

    party: uuid.UUID | None = None


@dataclass(frozen=True)
class GetConvention:
    convention_id: uuid.UUID


@dataclass(frozen=True)
class MissionExport:
    """A mission as FHIR R4 (``what``: ``mission``, its care team and appointments, or
    ``procedures``, the surgeries done); ``identities``: patients named (the host's clinicians)."""

    mission_id: uuid.UUID
    what: str
    identities: bool
