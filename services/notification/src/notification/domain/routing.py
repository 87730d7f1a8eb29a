"""Who is told what: default audiences computed from events, explicit
subscriptions that add to them, opt-outs that take away, and consent.

Default audiences:

* a mission's team: every event of that mission (``Mission*``) and its start reminder;
* host and visiting institutions, and the mission's host sites: ``MissionScheduled``,
  ``MissionRescheduled``, ``MissionCancelled``;
* the convention's funders and supervisors: ``SurgeryCompleted`` and ``MissionCompleted``;
* a surgery's lead surgeon and the patient's family: ``SurgeryScheduled``,
  ``SurgeryRescheduled``, ``SurgeryCancelled``, ``SurgerySuspended``, ``SurgeryResumed`` and the
  reminder the day before;
* a consultation's patient's family: ``ConsultationSuspended``, ``ConsultationResumed``;
* the member concerned (added, removed, whose on-site dates changed), not the whole team:
  ``MissionTeamChanged``; the new and the previous lead surgeon: ``SurgeryLeadChanged``.
* the responsible clinicians of a completed surgery's 30-day follow-up: the contacts of the
  surgery's host site (its ``site_institution_id``; the mission's host where it names none), and
  its lead surgeon if they are a local surgeon: the reminder on day 30.
* ``MissionSitesChanged``: nobody by default (subscribers are told); it keeps the mission's sites.

A family is told only of its own child, and only once consent is recorded,
whatever its subscriptions say.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from jumelage.errors import Invalid
from jumelage.events import registry
from jumelage.events.notification import Channel
from notification.domain.contacts import Audience, Contact, ContactKind
from notification.domain.programme import Facts

SURGERY_REMINDER = "SurgeryReminder"
MISSION_REMINDER = "MissionReminder"
FOLLOW_UP_REMINDER = "FollowUpReminder"
REMINDER_TYPES = (SURGERY_REMINDER, MISSION_REMINDER, FOLLOW_UP_REMINDER)

MISSION_PLAN_CHANGES = frozenset({"MissionScheduled", "MissionRescheduled", "MissionCancelled"})
ACHIEVEMENTS = frozenset({"SurgeryCompleted", "MissionCompleted"})
SURGERY_PLAN_CHANGES = frozenset({"SurgeryScheduled", "SurgeryRescheduled", "SurgeryCancelled", "SurgerySuspended",
                                  "SurgeryResumed", SURGERY_REMINDER})
CONSULTATION_HOLDS = frozenset({"ConsultationSuspended", "ConsultationResumed"})
PERSONAL = frozenset({"MissionTeamChanged", "SurgeryLeadChanged"})
QUIET = frozenset({"MissionSitesChanged"})
"""Mission events told to their subscribers only, not to the team."""
"""Told to the practitioners they name (``Occurrence.practitioners``), not to a whole team."""

_SOURCES = ("/services/convention", "/services/scheduling")


def notifiable_types() -> tuple[str, ...]:
    """What a contact may subscribe to or opt out of: every event of the convention
    and scheduling services (new ones included as the contract grows) and the reminders."""
    events = [c.event_type for source in _SOURCES for c in registry.from_source(source)]
    return tuple(sorted({*events, *REMINDER_TYPES}))


def check_event_type(event_type: str) -> str:
    if event_type not in notifiable_types():
        raise Invalid(f"unknown event type {event_type!r}", field="event_type")
    return event_type


@dataclass(frozen=True)
class Occurrence:
    """Something people may need to hear of: an event, or a reminder falling due."""

    type: str
    facts: Facts = field(default_factory=Facts)
    institution_id: uuid.UUID | None = None  # the event's own institution (InstitutionRegistered)
    convention_id: uuid.UUID | None = None
    patient_ref: str | None = None
    practitioners: frozenset[uuid.UUID] = frozenset()  # whom a ``PERSONAL`` event concerns

    @property
    def convention(self) -> uuid.UUID | None:
        f = self.facts
        return (self.convention_id or (f.convention.id if f.convention else None)
                or (f.mission.convention_id if f.mission else None)
                or (f.surgery.convention_id if f.surgery else None))

    @property
    def patient(self) -> str | None:
        return self.patient_ref or (self.facts.surgery.patient_ref if self.facts.surgery else None)

    @property
    def institutions(self) -> frozenset[uuid.UUID]:
        """The institutions this occurrence concerns, for subscriptions limited to one."""
        found: set[uuid.UUID] = set()
        if self.institution_id:
            found.add(self.institution_id)
        if self.facts.mission:
            found |= self.facts.mission.institutions()
        if self.facts.convention:
            found |= self.facts.convention.institutions()
        if self.facts.surgery and self.facts.surgery.site_institution_id:
            found.add(self.facts.surgery.site_institution_id)
        return frozenset(found)

    @property
    def host_site(self) -> uuid.UUID | None:
        """The host-side institution of a surgery: its site, else its mission's host."""
        f = self.facts
        site = f.surgery.site_institution_id if f.surgery else None
        if f.mission is not None:
            return f.mission.site_of(site)
        return site

    def default_audience(self) -> frozenset[Audience]:
        f, kind = self.facts, self.type
        audience: set[Audience] = set()
        audience |= {Audience.practitioner(p) for p in self.practitioners}
        if f.mission is not None and kind.startswith("Mission") and kind not in PERSONAL | QUIET:
            audience |= {Audience.practitioner(m.practitioner_id) for m in f.mission.team}
            if kind in MISSION_PLAN_CHANGES:
                audience |= {Audience.institution(i) for i in f.mission.institutions()}
        if kind in ACHIEVEMENTS and f.convention is not None:
            audience |= {Audience.institution(i) for i in f.convention.overseers()}
        if kind in SURGERY_PLAN_CHANGES and f.surgery is not None:
            if f.surgery.lead_surgeon_id:
                audience.add(Audience.practitioner(f.surgery.lead_surgeon_id))
            if self.patient:
                audience.add(Audience.family(self.patient))
        if kind in CONSULTATION_HOLDS and self.patient:
            audience.add(Audience.family(self.patient))
        if kind == FOLLOW_UP_REMINDER and f.surgery is not None:
            if self.host_site is not None:
                audience.add(Audience.institution(self.host_site))
            if f.surgery.lead_side == "local" and f.surgery.lead_surgeon_id:
                audience.add(Audience.practitioner(f.surgery.lead_surgeon_id))
        return frozenset(audience)


@dataclass(frozen=True)
class Subscription:
    """An explicit rule of one contact: receive ``event_type`` (``opt_out`` False) in
    addition to the defaults, or never receive it (``opt_out`` True); either
    limited to one convention or one institution, or not limited."""

    id: uuid.UUID
    contact_id: uuid.UUID
    event_type: str
    convention_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    opt_out: bool = False

    @classmethod
    def new(cls, contact_id: uuid.UUID, event_type: str, *, convention_id: uuid.UUID | None = None,
            institution_id: uuid.UUID | None = None, opt_out: bool = False) -> Subscription:
        if convention_id is not None and institution_id is not None:
            raise Invalid("limit a subscription to one convention or one institution, not both",
                          field="institution_id")
        return cls(uuid.uuid4(), contact_id, check_event_type(event_type), convention_id, institution_id, opt_out)

    @property
    def scope(self) -> str:
        """One string per scope, so a contact has at most one rule per type and scope."""
        if self.convention_id:
            return f"convention:{self.convention_id}"
        if self.institution_id:
            return f"institution:{self.institution_id}"
        return "*"

    def matches(self, occurrence: Occurrence) -> bool:
        if self.event_type != occurrence.type:
            return False
        if self.convention_id is not None and self.convention_id != occurrence.convention:
            return False
        return self.institution_id is None or self.institution_id in occurrence.institutions


@dataclass(frozen=True)
class Candidate:
    """A contact who might be concerned, with its rules for the occurrence's type."""

    contact: Contact
    rules: tuple[Subscription, ...] = ()


@dataclass(frozen=True)
class Recipient:
    contact: Contact
    channel: Channel


def recipients(occurrence: Occurrence, candidates: Iterable[Candidate]) -> list[Recipient]:
    """Who gets this occurrence, on which channel; in a stable order."""
    audience = occurrence.default_audience()
    chosen: dict[uuid.UUID, Contact] = {}
    for candidate in candidates:
        contact = candidate.contact
        applicable = [r for r in candidate.rules if r.matches(occurrence)]
        if any(r.opt_out for r in applicable):
            continue
        if contact.audience not in audience and not applicable:
            continue
        if not contact.may_be_told:
            continue
        if contact.kind is ContactKind.family and contact.subject_ref != occurrence.patient:
            continue  # a family hears of its own child only, even through a subscription
        chosen[contact.id] = contact
    return [Recipient(c, ch) for c in sorted(chosen.values(), key=lambda c: str(c.id)) for ch in c.channels()]
