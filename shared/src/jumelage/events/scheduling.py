"""Events produced by the scheduling service (source ``/services/scheduling``).

Patients appear only as ``patient_ref`` (see "Patient privacy" in EVENTS.md):
no model here may carry a patient's name, contact details or notes.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jumelage.events.envelope import EventData, UtcDateTime

SOURCE = "/services/scheduling"

PatientRef = Annotated[str, Field(min_length=1, description="opaque id issued by the scheduling service")]
Reason = Annotated[str, Field(min_length=1)]


class PractitionerRole(StrEnum):
    surgeon = "surgeon"
    anaesthetist = "anaesthetist"
    cardiologist = "cardiologist"
    perfusionist = "perfusionist"
    intensivist = "intensivist"
    nurse = "nurse"
    assistant_professor = "assistant_professor"
    resident = "resident"
    general_practitioner = "general_practitioner"


class SurgeryOutcome(StrEnum):
    successful = "successful"
    with_complications = "with_complications"
    deceased = "deceased"


class LeadSide(StrEnum):
    """Who led a surgery: a surgeon of the visiting side, or of the host (their home institution)."""

    visiting = "visiting"
    local = "local"


class LocalRole(StrEnum):
    """A local practitioner's part in a surgery, the steps towards operating alone, lowest first."""

    observer = "observer"
    assistant = "assistant"
    primary_under_supervision = "primary_under_supervision"
    independent = "independent"


LOCAL_ROLE_STEPS: tuple[LocalRole, ...] = tuple(LocalRole)
"""The steps in order: a practitioner climbs from observer to independent."""


class LocalPractitionerRole(BaseModel):
    """A practitioner of the host (a member of the mission's team whose home institution is the
    host or one of the mission's host sites) and their part in the surgery; a practitioner, never
    a patient."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    practitioner_ref: str = Field(min_length=1, max_length=100, description="their practitioner id on the team")
    role: LocalRole
    full_name: str | None = Field(default=None, min_length=1, max_length=200)


class FollowUpOutcome(StrEnum):
    """How a patient is thirty days after surgery, as the host's clinicians record it."""

    alive = "alive"
    readmitted = "readmitted"
    reoperated = "reoperated"
    surgical_site_infection = "surgical_site_infection"
    deceased = "deceased"
    lost_to_follow_up = "lost_to_follow_up"


class TeamChange(StrEnum):
    added = "added"
    removed = "removed"
    dates_changed = "dates_changed"


class TeamMember(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    practitioner_id: uuid.UUID
    full_name: str = Field(min_length=1)  # a practitioner's name, never a patient's
    role: PractitionerRole
    home_institution_id: uuid.UUID | None = Field(
        default=None, description="the institution they work at (added by the project; absent: not said)")
    arrives_on: date | None = Field(
        default=None, description="first day on site (added by the project; absent: the mission's first day)")
    leaves_on: date | None = Field(
        default=None, description="last day on site (added by the project; absent: the mission's last day)")


class MissionSite(BaseModel):
    """A host site of a mission (added by the project): an institution and the mission's days there."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    institution_id: uuid.UUID
    starts_on: date = Field(description="the mission's first day at this site")
    ends_on: date = Field(description="the mission's last day at this site")

    @model_validator(mode="after")
    def _period_is_ordered(self) -> MissionSite:
        _check_period(self.starts_on, self.ends_on)
        return self


class SiteChange(StrEnum):
    site_added = "site_added"
    site_removed = "site_removed"
    days_changed = "days_changed"


Sites = Annotated[list[MissionSite] | None, Field(
    default=None, max_length=20,
    description="the mission's host sites, the host first, with its days at each (added by the project; "
                "absent: the host alone, every day of the mission)")]
Site = Annotated[uuid.UUID | None, Field(
    default=None, description="the host site (institution) it takes place at (added by the project; absent: "
                              "the mission's host)")]


class PlacementKind(StrEnum):
    observership = "observership"
    fellowship = "fellowship"


class Trainee(BaseModel):
    """A member of the beneficiary's staff on a training placement (a practitioner, never a patient)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    practitioner_id: uuid.UUID
    full_name: str = Field(min_length=1)


class Totals(BaseModel):
    """What a mission actually held (compare with the convention's objectives)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    surgeries: int = Field(ge=0)
    consultations: int = Field(ge=0)
    training_sessions: int = Field(ge=0)


def _check_period(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise ValueError("ends_on is before starts_on")


class SchedulingEvent(EventData, source=SOURCE, abstract=True):
    pass


class _AboutMission(SchedulingEvent, abstract=True):
    subject_of = ("missions", "mission_id")

    mission_id: uuid.UUID


class _AboutSurgery(SchedulingEvent, abstract=True):
    subject_of = ("surgeries", "surgery_id")

    surgery_id: uuid.UUID


class MissionScheduled(_AboutMission):
    convention_id: uuid.UUID
    host_institution_id: uuid.UUID
    visiting_institution_id: uuid.UUID
    specialty: str = Field(min_length=1)
    starts_on: date
    ends_on: date
    team: list[TeamMember]
    sites: Sites = None

    @model_validator(mode="after")
    def _period_is_ordered(self) -> MissionScheduled:
        _check_period(self.starts_on, self.ends_on)
        return self


class MissionRescheduled(_AboutMission):
    starts_on: date
    ends_on: date
    reason: Reason
    sites: Sites = None

    @model_validator(mode="after")
    def _period_is_ordered(self) -> MissionRescheduled:
        _check_period(self.starts_on, self.ends_on)
        return self


class MissionCancelled(_AboutMission):
    reason: Reason


class MissionSuspended(_AboutMission):
    """A project addition to EVENTS.md: a mission not yet started waits while its
    convention is suspended (it is released, not cancelled, when it resumes)."""

    convention_id: uuid.UUID
    reason: Reason


class MissionResumed(_AboutMission):
    """A project addition to EVENTS.md: a mission on hold is scheduled again
    because its convention resumed."""

    convention_id: uuid.UUID


class MissionTeamChanged(_AboutMission):
    """A project addition to EVENTS.md: a member was added to or removed from a mission's team,
    or their arrival or departure changed; ``team`` is the whole roster after the change."""

    convention_id: uuid.UUID
    change: TeamChange
    practitioner_id: uuid.UUID
    team: list[TeamMember]


class MissionSitesChanged(_AboutMission):
    """A project addition to EVENTS.md: a host site was added to or removed from a mission, or
    the mission's days at one changed; ``sites`` is every site after the change."""

    convention_id: uuid.UUID
    change: SiteChange
    institution_id: uuid.UUID
    sites: list[MissionSite] = Field(min_length=1, max_length=20)


class MissionStarted(_AboutMission):
    convention_id: uuid.UUID


class MissionCompleted(_AboutMission):
    convention_id: uuid.UUID
    totals: Totals


class SurgeryScheduled(_AboutSurgery):
    mission_id: uuid.UUID
    convention_id: uuid.UUID
    patient_ref: PatientRef
    procedure: str = Field(min_length=1)
    operating_room: str = Field(min_length=1)
    scheduled_start: UtcDateTime
    expected_duration_minutes: int = Field(gt=0)
    lead_surgeon_id: uuid.UUID
    site_institution_id: Site = None


class SurgeryRescheduled(_AboutSurgery):
    operating_room: str = Field(min_length=1)
    scheduled_start: UtcDateTime
    reason: Reason
    site_institution_id: Site = None


class SurgeryLeadChanged(_AboutSurgery):
    """A project addition to EVENTS.md: a scheduled surgery is led by another surgeon of the
    team (before it starts), and why."""

    mission_id: uuid.UUID
    previous_lead_surgeon_id: uuid.UUID
    lead_surgeon_id: uuid.UUID
    reason: Reason


class CancellationCause(StrEnum):
    """Why the system itself cancelled a surgery, for subscribers to say in their own words
    (``reason`` is the service's English sentence)."""

    not_ready = "not_ready"  # the case's readiness was withdrawn; it stays on the waiting list


class SurgeryCancelled(_AboutSurgery):
    mission_id: uuid.UUID
    reason: Reason
    cause: CancellationCause | None = Field(
        default=None, description="added by the project: set when the system cancelled for a known cause")


class SurgerySuspended(_AboutSurgery):
    """A project addition to EVENTS.md: a surgery of a mission put on hold (its convention
    suspended) waits with it; it keeps its slot, and no reminder goes out while it waits."""

    mission_id: uuid.UUID
    convention_id: uuid.UUID
    patient_ref: PatientRef
    operating_room: str = Field(min_length=1)
    scheduled_start: UtcDateTime
    reason: Reason


class SurgeryResumed(_AboutSurgery):
    """A project addition to EVENTS.md: a surgery on hold is scheduled again with its
    mission; ``scheduled_start`` is its date from now on (the same as before, unless moved)."""

    mission_id: uuid.UUID
    convention_id: uuid.UUID
    patient_ref: PatientRef
    operating_room: str = Field(min_length=1)
    scheduled_start: UtcDateTime


class SurgeryCompleted(_AboutSurgery):
    mission_id: uuid.UUID
    convention_id: uuid.UUID
    patient_ref: PatientRef
    procedure: str = Field(min_length=1)
    completed_at: UtcDateTime
    duration_minutes: int = Field(gt=0)
    outcome: SurgeryOutcome
    previously_referred_abroad: bool
    # Optional (added after v1): the mission's specialty, which the convention's reference costs go by.
    specialty: str | None = Field(default=None, min_length=1, max_length=200)
    # Optional (added after v1): who led it (from the lead surgeon's home institution), the host's
    # practitioners' parts in it, and the case's risk category (what autonomy and outcomes go by).
    lead_side: LeadSide | None = None
    local_roles: list[LocalPractitionerRole] | None = Field(default=None, max_length=50)
    risk_scheme: str | None = Field(default=None, min_length=1, max_length=20)
    risk_category: int | None = Field(default=None, ge=1, le=6)
    site_institution_id: Site = None


class SurgeryFollowedUp(_AboutSurgery):
    """A project addition to EVENTS.md: the host's clinicians recorded how the patient is thirty
    days after the surgery. No patient identity, not even the ``patient_ref``."""

    mission_id: uuid.UUID
    convention_id: uuid.UUID
    outcome: FollowUpOutcome
    completed_at: UtcDateTime = Field(description="when the surgery ended")
    followed_up_on: date = Field(description="the day the follow-up was recorded for (host's calendar)")
    days_after_surgery: int = Field(ge=0, le=3660)
    risk_scheme: str | None = Field(default=None, min_length=1, max_length=20)
    risk_category: int | None = Field(default=None, ge=1, le=6)
    specialty: str | None = Field(default=None, min_length=1, max_length=200)


class ConsultationHeld(SchedulingEvent):
    subject_of = ("consultations", "consultation_id")

    consultation_id: uuid.UUID
    mission_id: uuid.UUID
    convention_id: uuid.UUID
    patient_ref: PatientRef
    specialty: str = Field(min_length=1)
    held_at: UtcDateTime
    site_institution_id: Site = None


class _AboutConsultation(SchedulingEvent, abstract=True):
    subject_of = ("consultations", "consultation_id")

    consultation_id: uuid.UUID


class ConsultationSuspended(_AboutConsultation):
    """A project addition to EVENTS.md: a consultation planned in a mission put on hold waits
    with it (its time is kept)."""

    mission_id: uuid.UUID
    convention_id: uuid.UUID
    patient_ref: PatientRef
    scheduled_at: UtcDateTime
    reason: Reason


class ConsultationResumed(_AboutConsultation):
    """A project addition to EVENTS.md: a consultation on hold is planned again with its
    mission, at ``scheduled_at``."""

    mission_id: uuid.UUID
    convention_id: uuid.UUID
    patient_ref: PatientRef
    scheduled_at: UtcDateTime


class TrainingSessionHeld(SchedulingEvent):
    subject_of = ("training_sessions", "training_session_id")

    training_session_id: uuid.UUID
    mission_id: uuid.UUID
    convention_id: uuid.UUID
    topic: str = Field(min_length=1)
    held_at: UtcDateTime
    hours: float = Field(gt=0)
    trainee_count: int = Field(ge=0)
    site_institution_id: Site = None


class TrainingPlacementCompleted(SchedulingEvent):
    """A project addition to EVENTS.md: local staff of a beneficiary completed a training
    placement (observership or fellowship) at a provider's hospital, outside any mission."""

    subject_of = ("training_placements", "placement_id")

    placement_id: uuid.UUID
    convention_id: uuid.UUID
    kind: PlacementKind
    specialty: str = Field(min_length=1)
    provider_institution_id: uuid.UUID
    beneficiary_institution_id: uuid.UUID
    starts_on: date
    ends_on: date
    days_spent: int = Field(gt=0, description="days the trainees spent at the provider's hospital")
    trainees: list[Trainee]

    @model_validator(mode="after")
    def _period_is_ordered(self) -> TrainingPlacementCompleted:
        _check_period(self.starts_on, self.ends_on)
        return self


class ErasureReason(StrEnum):
    request = "request"      # the family asked, through the host's clinician or privacy officer
    retention = "retention"  # kept the configured time after the case closed


class PatientIdentityErased(SchedulingEvent):
    """A project addition to EVENTS.md: a patient's identity was erased or pseudonymised (a
    family's request, or the retention period after the case closed). It carries no identity:
    the notification service forgets the family's contact details and cancels what is pending."""

    subject_of = ("cases", "patient_ref")

    patient_ref: PatientRef
    reason: ErasureReason


__all__ = [
    "ConsultationHeld",
    "ErasureReason",
    "PatientIdentityErased",
    "ConsultationResumed",
    "ConsultationSuspended",
    "MissionCancelled",
    "MissionCompleted",
    "MissionSuspended",
    "MissionResumed",
    "MissionRescheduled",
    "MissionScheduled",
    "MissionStarted",
    "MissionSite",
    "MissionSitesChanged",
    "MissionTeamChanged",
    "LOCAL_ROLE_STEPS",
    "LeadSide",
    "LocalPractitionerRole",
    "LocalRole",
    "PractitionerRole",
    "SchedulingEvent",
    "SurgeryCancelled",
    "SurgeryCompleted",
    "SurgeryFollowedUp",
    "FollowUpOutcome",
    "SurgeryLeadChanged",
    "SurgeryOutcome",
    "SurgeryRescheduled",
    "SurgeryResumed",
    "SurgeryScheduled",
    "PlacementKind",
    "SurgerySuspended",
    "SiteChange",
    "TeamChange",
    "Trainee",
    "TrainingPlacementCompleted",
    "TeamMember",
    "Totals",
    "TrainingSessionHeld",
]
