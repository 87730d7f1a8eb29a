"""What this service knows of conventions, missions and surgeries: just enough to
decide who is concerned by an event, built from the other services' events.

Events may arrive out of order (a retry can put a ``SurgeryRescheduled`` before
its ``SurgeryScheduled``): each replica records what it is told, keeps the
newest plan by event time, and never lets a late event undo a cancellation.
So for a mission's sites (``MissionScheduled``/``MissionRescheduled``/``MissionSitesChanged``:
the newest by event time) and a surgery's lead (``SurgeryScheduled``, then ``SurgeryLeadChanged``:
the newest by event time; at the same instant the lead change wins, since it can only follow).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class PlanStatus(StrEnum):
    scheduled = "scheduled"
    on_hold = "on_hold"
    started = "started"
    completed = "completed"
    cancelled = "cancelled"


FINAL = {PlanStatus.completed, PlanStatus.cancelled}


@dataclass(frozen=True)
class TeamMember:
    practitioner_id: uuid.UUID
    full_name: str
    role: str


@dataclass(frozen=True)
class ConventionParty:
    institution_id: uuid.UUID
    role: str  # provider, beneficiary, funder, supervisor


OVERSIGHT_ROLES = frozenset({"funder", "supervisor"})


@dataclass
class KnownConvention:
    id: uuid.UUID
    reference: str | None = None
    title: str | None = None
    parties: tuple[ConventionParty, ...] = ()
    status: str = "signed"

    def institutions(self) -> frozenset[uuid.UUID]:
        return frozenset(p.institution_id for p in self.parties)

    def overseers(self) -> frozenset[uuid.UUID]:
        """Funders and supervisors: they follow what the convention achieves."""
        return frozenset(p.institution_id for p in self.parties if p.role in OVERSIGHT_ROLES)


@dataclass(frozen=True)
class KnownSite:
    """A host site of a mission and the mission's days there."""

    institution_id: uuid.UUID
    starts_on: date | None = None
    ends_on: date | None = None


@dataclass
class KnownMission:
    id: uuid.UUID
    convention_id: uuid.UUID | None = None
    host_institution_id: uuid.UUID | None = None
    visiting_institution_id: uuid.UUID | None = None
    specialty: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    team: tuple[TeamMember, ...] = ()
    status: PlanStatus = PlanStatus.scheduled
    planned_at: datetime | None = None  # time of the event that set the current dates
    # Its host sites (empty: its host alone), and the time of the event that said so.
    sites: tuple[KnownSite, ...] = ()
    sites_at: datetime | None = None

    def institutions(self) -> frozenset[uuid.UUID]:
        """Its host, its visiting institution and each of its host sites."""
        return frozenset(i for i in (self.host_institution_id, self.visiting_institution_id, *self.site_ids) if i)

    @property
    def site_ids(self) -> tuple[uuid.UUID, ...]:
        return tuple(s.institution_id for s in self.sites)

    def take_sites(self, sites: tuple[KnownSite, ...], at: datetime) -> None:
        """The sites of an event at time ``at``, unless newer ones are known."""
        if self.sites_at is None or at >= self.sites_at:
            self.sites, self.sites_at = sites, at

    def site_of(self, institution_id: uuid.UUID | None) -> uuid.UUID | None:
        """Where something at ``institution_id`` takes place: that site if its event named one (even
        one the mission has left since, or not known here yet: it happened there), else the host."""
        return institution_id or self.host_institution_id

    def plan(self, starts_on: date, ends_on: date, at: datetime) -> None:
        """Take the dates of an event at time ``at`` unless newer ones are known."""
        if self.planned_at is None or at >= self.planned_at:
            self.starts_on, self.ends_on, self.planned_at = starts_on, ends_on, at

    def move_to(self, status: PlanStatus) -> None:
        if self.status not in FINAL:  # a late event never revives a cancelled mission
            self.status = status

    @property
    def active(self) -> bool:
        return self.status is PlanStatus.scheduled


@dataclass
class KnownSurgery:
    id: uuid.UUID
    mission_id: uuid.UUID | None = None
    convention_id: uuid.UUID | None = None
    patient_ref: str | None = None
    procedure: str | None = None
    operating_room: str | None = None
    scheduled_start: datetime | None = None
    lead_surgeon_id: uuid.UUID | None = None
    status: PlanStatus = PlanStatus.scheduled
    planned_at: datetime | None = None
    # Once completed: when, and who led it (``local``: a surgeon of the host, the responsible
    # clinician of the 30-day follow-up beside the host's own contacts).
    completed_at: datetime | None = None
    lead_side: str | None = None
    followed_up: bool = False  # its 30-day follow-up is recorded: no reminder for it
    # The host site it takes place at (the surgery events' ``site_institution_id``; None: the host).
    site_institution_id: uuid.UUID | None = None
    lead_at: datetime | None = None  # time of the event that set ``lead_surgeon_id``

    def take_lead(self, lead_surgeon_id: uuid.UUID, at: datetime, *, changed: bool) -> None:
        """The lead of an event at time ``at`` (``changed``: a ``SurgeryLeadChanged``), unless a
        newer one is known: an older event arriving late never overwrites it. A lead change at
        the same instant as the scheduling wins (it can only follow it)."""
        if self.lead_at is None or at > self.lead_at or (changed and at == self.lead_at):
            self.lead_surgeon_id, self.lead_at = lead_surgeon_id, at

    def plan(self, operating_room: str, scheduled_start: datetime, at: datetime) -> None:
        if self.planned_at is None or at >= self.planned_at:
            self.operating_room, self.scheduled_start, self.planned_at = operating_room, scheduled_start, at

    def move_to(self, status: PlanStatus) -> None:
        if self.status not in FINAL:
            self.status = status

    def release(self) -> None:
        """Scheduled again with its mission: the only way back from a hold."""
        if self.status is PlanStatus.on_hold:
            self.status = PlanStatus.scheduled

    @property
    def active(self) -> bool:
        return self.status is PlanStatus.scheduled

    def reminder_start(self, mission: KnownMission | None) -> datetime | None:
        """The start its reminder counts from: none unless it is scheduled and its mission
        is not on hold (a surgery's reminder never goes out while its mission waits)."""
        if not self.active or (mission is not None and mission.status is PlanStatus.on_hold):
            return None
        return self.scheduled_start


@dataclass(frozen=True)
class Facts:
    """What is known around one event: its mission, convention and surgery, if any."""

    mission: KnownMission | None = None
    convention: KnownConvention | None = None
    surgery: KnownSurgery | None = None
    institution_names: dict[uuid.UUID, str] = field(default_factory=dict)
