"""What the pages ask: one query per page or part of a page, one command per
action. The handler of each calls the services with the person's token."""

from __future__ import annotations

import uuid
from datetime import date
from dataclasses import dataclass
from typing import Any


# -- conventions -------------------------------------------------------------

@dataclass(frozen=True)
class ListConventions:
    status: str | None = None
    q: str | None = None
    party: uuid.UUID | None = None
    specialty: str | None = None
    offset: int = 0
    limit: int = 25


@dataclass(frozen=True)
class ShowConvention:
    convention_id: uuid.UUID


FHIR_EXPORTS = ("convention", "mission", "procedures")


@dataclass(frozen=True)
class DownloadFhir:
    """A FHIR R4 Bundle as the service makes it for this person: a convention's (``convention``:
    its Contract and parties), a mission's (``mission``: its CareTeam and Appointments) or the
    surgeries done in it (``procedures``); ``record_id`` is the convention's or the mission's."""

    export: str
    record_id: uuid.UUID


@dataclass(frozen=True)
class DownloadReport:
    """A convention's report (``format``: ``pdf`` in ``language``, or ``zip``: its CSV files) for a
    period (a year, quarter or month) or from/to, as the convention service makes it."""

    convention_id: uuid.UUID
    format: str
    language: str
    period: str | None = None
    first: date | None = None
    last: date | None = None


@dataclass(frozen=True)
class ChangeConvention:
    """sign, suspend, resume or terminate, as the service words them (``body``: its fields)."""

    convention_id: uuid.UUID
    action: str
    body: dict[str, Any]
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class AmendConvention:
    convention_id: uuid.UUID
    body: dict[str, Any]
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class DraftConvention:
    body: dict[str, Any]
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class EditDraft:
    convention_id: uuid.UUID
    changes: dict[str, Any]
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ListInstitutions:
    q: str | None = None
    limit: int = 200


# -- signing in --------------------------------------------------------------

@dataclass(frozen=True)
class LocalPeople:
    """The demo's people, for the local sign-in page."""


@dataclass(frozen=True)
class SignInLocally:
    """One of the demo's people, with a token minted with the local secret."""

    subject: str
    language: str | None


@dataclass(frozen=True)
class BeginSignIn:
    """To the identity provider: where to send the browser, and what to keep until it is back."""

    language: str


@dataclass(frozen=True)
class FinishSignIn:
    """Back from the identity provider with ``params`` (the callback's query)."""

    params: dict[str, str]
    pending: dict[str, Any] | None
    language: str | None


# -- waiting list, consultations and training, notification desk (issue 18, pages 3, 5, 6) --------

@dataclass(frozen=True)
class ShowWaitingList:
    """A host's cases, as the scheduling service returns them to this person."""

    institution_id: uuid.UUID
    priority: int | None = None


@dataclass(frozen=True)
class RegisterCase:
    institution_id: uuid.UUID
    body: dict[str, Any]
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class EditCase:
    """Correct a case: ``changes`` is the service's PATCH body (what the case's status lets change)."""

    case_id: uuid.UUID
    changes: dict[str, Any]
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ChangeCase:
    """cancel or refer-elsewhere, as the service words them, with the reason."""

    case_id: uuid.UUID
    action: str
    reason: str
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ShowAccessHistory:
    """Who read the identity of an institution's patients, in the scheduling and notification
    services (its privacy officer; the services decide)."""

    institution_id: uuid.UUID
    patient_ref: str | None = None


@dataclass(frozen=True)
class ChangeConsent:
    """The family gives (``give``) or withdraws its consent to a purpose: care, notifications, sharing."""

    case_id: uuid.UUID
    purpose: str
    give: bool
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class DownloadAccessRequest:
    """The family's access request: what the scheduling and notification services hold of a
    patient, as one PDF in ``language`` (``None``: the family contact's, else the page's); the case
    by its id, or (``case_id`` None) by its patient's reference, as the privacy officer's page names it."""

    case_id: uuid.UUID | None
    language: str | None = None
    patient_ref: str | None = None


@dataclass(frozen=True)
class EraseIdentity:
    """The family asked: the patient's identity (and the family's contact details) erased."""

    case_id: uuid.UUID
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ChangeReadiness:
    """Check (with a date, and a label for ``other``) or withdraw an item of a case's readiness."""

    case_id: uuid.UUID
    item: str
    check: bool
    checked_on: str | None
    label: str | None
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ShowActivities:
    mission_id: uuid.UUID


@dataclass(frozen=True)
class PlanActivity:
    """A consultation or a training session (``kind``), with the service's body."""

    mission_id: uuid.UUID
    kind: str
    body: dict[str, Any]
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class HoldActivity:
    """Record a consultation or a training session (``kind``) as held."""

    activity_id: uuid.UUID
    kind: str
    body: dict[str, Any]
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ShowDesk:
    status: str | None = None
    limit: int = 50
    offset: int = 0            # the notifications' page (the service's limit/offset paging)
    reminders_offset: int = 0
    contacts_offset: int = 0


@dataclass(frozen=True)
class PreviewTemplate:
    event_type: str
    language: str
    channel: str


# -- missions ----------------------------------------------------------------

@dataclass(frozen=True)
class ListMissions:
    """The calendar: the missions the person sees, by host, convention and status."""

    host: uuid.UUID | None = None
    convention: uuid.UUID | None = None
    status: str | None = None


@dataclass(frozen=True)
class ShowMission:
    """A mission's page; with ``proposal`` (the optimiser's answer) when one was just asked for."""

    mission_id: uuid.UUID
    proposal: Any = None


@dataclass(frozen=True)
class FollowUpSurgery:
    """A surgery's 30-day follow-up (``outcome``), recorded by the host's clinicians."""

    surgery_id: uuid.UUID
    outcome: str
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ChangeMission:
    """reschedule, cancel, start or complete, as the service words them (``body``: its fields)."""

    mission_id: uuid.UUID
    action: str
    body: dict[str, Any] | None
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class AddTeamMember:
    mission_id: uuid.UUID
    member: dict[str, Any]
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ChangeOnSiteDates:
    """A member's days on site (``body``: arrives_on / leaves_on, absent: the mission's first / last day)."""

    mission_id: uuid.UUID
    practitioner_id: uuid.UUID
    body: dict[str, Any]
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class SetMissionSite:
    """Add a host site, or change the mission's days there (``body``: starts_on / ends_on,
    absent: the mission's first / last day)."""

    mission_id: uuid.UUID
    institution_id: uuid.UUID
    body: dict[str, Any]
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class RemoveMissionSite:
    """A site the mission no longer visits (the service refuses the host, or one with something planned)."""

    mission_id: uuid.UUID
    institution_id: uuid.UUID
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class RemoveTeamMember:
    mission_id: uuid.UUID
    practitioner_id: uuid.UUID
    if_match: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ProposePlan:
    """Ask the optimiser for a plan (the service writes nothing)."""

    mission_id: uuid.UUID
    body: dict[str, Any]


@dataclass(frozen=True)
class ApplyPlan:
    """Exactly the assignments of a proposal, all or none."""

    mission_id: uuid.UUID
    assignments: tuple[dict[str, Any], ...]
    reason: str | None
    idempotency_key: uuid.UUID


@dataclass(frozen=True)
class ShowOperatingList:
    mission_id: uuid.UUID
    day: date


# -- the dead-letter desk (administrators; each service decides) ------------------------------------

@dataclass(frozen=True)
class ShowDeadLetters:
    """Every service queue's dead letters."""


@dataclass(frozen=True)
class ShowDeadLetter:
    service: str
    key: str


@dataclass(frozen=True)
class HandleDeadLetter:
    """Retry one (``key``) or all (``key`` None) of a service queue's dead letters, or discard one."""

    service: str
    action: str  # "retry" or "discard"
    key: str | None
    reason: str | None
    idempotency_key: uuid.UUID
