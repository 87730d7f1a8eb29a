"""Surgeries: a waiting case, operated during a mission, in a room of the host,
by a surgeon of the visiting team.

Lifecycle::

    scheduled ──start──> started ──complete──> completed
      │  ├──reschedule (another time or room, checked again)
      │  └──on hold with its mission (``on_hold``: keeps its slot, no reminder), released with it
      └──cancel ──> cancelled   (the case goes back to the waiting list; also while on hold)

A slot is refused (409, naming what collides) when it falls outside the
mission's dates or the room's hours (host's wall clock), or when the room or
the surgeon is already taken by another surgery that is not cancelled. Pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from scheduling.domain import events
from scheduling.domain.cases import PatientCase
from scheduling.domain.missions import Mission
from scheduling.domain.resources import OperatingRoom, local_days
from scheduling.domain.timing import require_past, require_within_mission
from jumelage.domain import Aggregate
from scheduling.domain.values import MAX_LOCAL_PARTS, LocalPart, RiskScheme, SurgeryStatus
from jumelage.errors import Conflict, Invalid
from jumelage.events.scheduling import (
    FollowUpOutcome,
    LeadSide,
    LocalRole,
    PractitionerRole,
    SurgeryOutcome,
)

if TYPE_CHECKING:  # commands name the aggregates' value types: imported for annotations only
    from scheduling.domain.commands import CompleteSurgery, RescheduleSurgery, ScheduleSurgery


ICU_DAYS: dict[tuple[str, int | None], int] = {
    **{("STAT", c): c for c in range(1, 6)},  # STAT 1: 1 day ... STAT 5: 5 days
    **{("RACHS-1", c): min(c, 5) for c in range(1, 7)},  # RACHS-1 1: 1 ... 5 and 6: 5 days
    ("none", None): 0,  # non-cardiac: recovery on the ward
}
"""Intensive-care days a case holds a bed for, from the day of its surgery, by risk category."""


def icu_days(scheme: str, category: int | None) -> int:
    return ICU_DAYS.get((scheme, category), 0 if scheme == "none" else 3)


FOLLOW_UP_DAYS = 30
"""The follow-up is recorded this many days after the surgery (the day of the reminder)."""

MAX_ICU_DAYS = max(ICU_DAYS.values())
"""The longest stay: a surgery earlier than that cannot hold a bed on the day."""


@dataclass
class Surgery(Aggregate):
    id: uuid.UUID
    mission_id: uuid.UUID
    case_id: uuid.UUID
    patient_ref: str
    procedure: str
    operating_room_id: uuid.UUID
    operating_room: str
    scheduled_start: datetime
    expected_duration_minutes: int
    lead_surgeon_id: uuid.UUID
    status: SurgeryStatus = SurgeryStatus.scheduled
    status_reason: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_minutes: int | None = None
    outcome: SurgeryOutcome | None = None
    anaesthetist_id: uuid.UUID | None = None
    # The case's priority and risk, as read with the surgery (None where not read): clinical
    # facts that everyone who may read the surgery sees, never the patient's identity.
    priority: int | None = None
    risk_scheme: RiskScheme | None = None
    risk_category: int | None = None
    # Waiting with its mission (its convention suspended): still scheduled, its slot kept.
    on_hold: bool = False
    # The local team's autonomy: who led it (set on completion, from the lead's home
    # institution) and each practitioner of the host's part in it (set before or on completion).
    lead_side: LeadSide | None = None
    local_roles: tuple[LocalPart, ...] = ()
    # Thirty days after: how the patient is, as the host's clinicians recorded it.
    follow_up_outcome: FollowUpOutcome | None = None
    followed_up_on: date | None = None
    follow_up_days: int | None = None
    # Kept by the store: raised on every change, and when.
    version: int = 0
    updated_at: datetime | None = None
    # The host site it takes place at: its case's institution, whose room it is in.
    site_institution_id: uuid.UUID | None = None

    @property
    def scheduled_end(self) -> datetime:
        return self.scheduled_start + timedelta(minutes=self.expected_duration_minutes)

    @property
    def label(self) -> str:
        return f"surgery {self.id}"

    @property
    def people(self) -> tuple[uuid.UUID, ...]:
        """Who must be on site for it: the lead surgeon, and the anaesthetist if one is recorded."""
        return (self.lead_surgeon_id,) + ((self.anaesthetist_id,) if self.anaesthetist_id else ())

    def days(self, tz: ZoneInfo) -> tuple[date, date]:
        return local_days(self.scheduled_start, self.scheduled_end, tz)

    @classmethod
    def schedule(cls, cmd: ScheduleSurgery, *, mission: Mission, case: PatientCase, room: OperatingRoom,
                 tz: ZoneInfo, others: Iterable[Surgery]) -> Surgery:
        """``others``: surgeries that may use the same room or surgeon around that time."""
        mission.require_plannable("surgeries")
        mission.require_site(case.host_institution_id, field="case_id",
                             what=f"case {case.patient_ref} is on the waiting list of institution "
                                  f"{case.host_institution_id}")
        case.require_waiting()
        procedure = " ".join((cmd.procedure or case.planned_procedure).split())
        if not procedure:
            raise Invalid("say which procedure", field="procedure")
        minutes = cmd.expected_duration_minutes or case.expected_duration_minutes
        surgery = cls(id=uuid.uuid4(), mission_id=mission.id, case_id=case.id, patient_ref=case.patient_ref,
                      procedure=procedure, operating_room_id=room.id, operating_room=room.name,
                      scheduled_start=cmd.scheduled_start, expected_duration_minutes=minutes,
                      lead_surgeon_id=cmd.lead_surgeon_id, anaesthetist_id=cmd.anaesthetist_id,
                      priority=case.priority, risk_scheme=case.risk_scheme, risk_category=case.risk_category,
                      site_institution_id=case.host_institution_id)
        surgery._check_slot(mission=mission, room=room, tz=tz, others=others)
        case.schedule()
        surgery.happened(events.surgery_scheduled(surgery, mission))
        return surgery

    def reschedule(self, cmd: RescheduleSurgery, *, mission: Mission, room: OperatingRoom, tz: ZoneInfo,
                   others: Iterable[Surgery]) -> str:
        self._require(SurgeryStatus.scheduled, action="reschedule")
        mission.require_plannable("surgeries")
        reason = _reason(cmd.reason)
        if (cmd.scheduled_start, room.id) == (self.scheduled_start, self.operating_room_id):
            raise Invalid(f"{self.label} is already at {self.scheduled_start:%Y-%m-%d %H:%M} UTC in "
                          f"{room.name!r}", field="scheduled_start")
        moved = replace(self, scheduled_start=cmd.scheduled_start, operating_room_id=room.id,
                        operating_room=room.name)
        moved._check_slot(mission=mission, room=room, tz=tz, others=others, site_field="scheduled_start")
        self.scheduled_start, self.operating_room_id, self.operating_room = (
            moved.scheduled_start, moved.operating_room_id, moved.operating_room)
        self.happened(events.surgery_rescheduled(self, reason))
        return reason

    def change_lead(self, lead_surgeon_id: uuid.UUID, reason: str, *, mission: Mission, room: OperatingRoom,
                    tz: ZoneInfo, others: Iterable[Surgery]) -> str:
        """Another surgeon of the team leads it, before it starts: on site that day and free then
        (``others``: surgeries that may hold them around that time)."""
        self._require(SurgeryStatus.scheduled, action="change the lead surgeon of")
        mission.require_plannable("surgeries")
        reason = _reason(reason)
        if lead_surgeon_id == self.lead_surgeon_id:
            raise Invalid(f"{self.label} is already led by {lead_surgeon_id}", field="lead_surgeon_id")
        led = replace(self, lead_surgeon_id=lead_surgeon_id)
        led._check_slot(mission=mission, room=room, tz=tz, others=others)
        previous, self.lead_surgeon_id = self.lead_surgeon_id, lead_surgeon_id
        self.happened(events.surgery_lead_changed(self, previous, reason))
        return reason

    def put_on_hold(self, mission: Mission) -> bool:
        """Its mission waits (its convention suspended): so does it, in its slot. False if
        there was nothing to do (not scheduled, or on hold already)."""
        if self.status is not SurgeryStatus.scheduled or self.on_hold:
            return False
        self.on_hold = True
        self.happened(events.surgery_suspended(self, mission))
        return True

    def release(self, mission: Mission) -> bool:
        """Its mission is scheduled again: so is it, at the time it kept."""
        if self.status is not SurgeryStatus.scheduled or not self.on_hold:
            return False
        self.on_hold = False
        self.happened(events.surgery_resumed(self, mission))
        return True

    def cancel(self, reason: str, case: PatientCase) -> str:
        self._require(SurgeryStatus.scheduled, action="cancel")
        self.status, self.status_reason = SurgeryStatus.cancelled, _reason(reason)
        self.on_hold = False
        case.back_to_waiting()
        self.happened(events.surgery_cancelled(self))
        return self.status_reason

    def start(self, mission: Mission, at: datetime, now: datetime) -> None:
        self._require(SurgeryStatus.scheduled, action="start")
        if self.on_hold:
            raise Conflict(f"{self.label} is on hold with its mission: it cannot start until the mission resumes")
        mission.require_started("surgeries start")
        self.started_at = require_past(at, now, field="started_at")
        self.status = SurgeryStatus.started

    def set_local_roles(self, parts: Iterable[LocalPart], mission: Mission) -> tuple[LocalPart, ...]:
        """The host's practitioners' parts in it, before it is completed (the whole list: an
        empty one clears it)."""
        self._require(SurgeryStatus.scheduled, SurgeryStatus.started, action="record the local roles of")
        self.local_roles = self._checked_parts(parts, mission)
        return self.local_roles

    def _checked_parts(self, parts: Iterable[LocalPart], mission: Mission) -> tuple[LocalPart, ...]:
        parts = tuple(parts)
        if len(parts) > MAX_LOCAL_PARTS:
            raise Invalid(f"at most {MAX_LOCAL_PARTS} local practitioners in one surgery", field="local_roles")
        seen: set[uuid.UUID] = set()
        for part in parts:
            if part.practitioner_id in seen:
                raise Invalid(f"practitioner {part.practitioner_id} is named twice", field="local_roles")
            seen.add(part.practitioner_id)
            member = mission.member(part.practitioner_id)
            if member is None:
                raise Invalid(f"practitioner {part.practitioner_id} is not on mission {mission.id}'s team",
                              field="local_roles")
            if not mission.is_local(member):
                raise Invalid(f"{member.full_name} ({member.practitioner_id}) works at institution "
                              f"{mission.home_of(member)}, not at the host: only the host's practitioners have "
                              "a local role", field="local_roles")
            if part.practitioner_id == self.lead_surgeon_id and part.role not in (
                    LocalRole.primary_under_supervision, LocalRole.independent):
                raise Invalid(f"{member.full_name} leads {self.label}: their role is primary_under_supervision "
                              f"or independent, not {part.role.value}", field="local_roles")
        return parts

    def lead_side_in(self, mission: Mission) -> LeadSide:
        lead = mission.member(self.lead_surgeon_id)
        return LeadSide.local if lead is not None and mission.is_local(lead) else LeadSide.visiting

    def follow_up(self, outcome: FollowUpOutcome, *, mission: Mission, today: date, tz: ZoneInfo) -> int:
        """Record how the patient is thirty days after (``today``: the host's calendar day). A
        death may be recorded as soon as it is known; anything else from day 30. Once only."""
        self._require(SurgeryStatus.completed, action="record the follow-up of")
        assert self.completed_at is not None
        if self.outcome is SurgeryOutcome.deceased:
            raise Conflict(f"the patient of {self.label} died at surgery: there is no follow-up to record")
        if self.follow_up_outcome is not None:
            raise Conflict(f"{self.label}'s follow-up is already recorded ({self.follow_up_outcome.value} on "
                           f"{self.followed_up_on})")
        operated_on = self.completed_at.astimezone(tz).date()
        days = (today - operated_on).days
        if days < FOLLOW_UP_DAYS and outcome is not FollowUpOutcome.deceased:
            raise Conflict(f"{self.label}'s 30-day follow-up is due on "
                           f"{operated_on + timedelta(days=FOLLOW_UP_DAYS)} ({tz.key}); before that only a "
                           "death can be recorded")
        self.follow_up_outcome, self.followed_up_on, self.follow_up_days = outcome, today, days
        self.happened(events.surgery_followed_up(self, mission))
        return days

    def complete(self, cmd: CompleteSurgery, *, mission: Mission, case: PatientCase, now: datetime) -> None:
        self._require(SurgeryStatus.started, action="complete")
        mission.require_started("surgeries are completed")
        if cmd.local_roles is not None:
            self.local_roles = self._checked_parts(cmd.local_roles, mission)
        self.lead_side = self.lead_side_in(mission)
        self.risk_scheme, self.risk_category = case.risk_scheme, case.risk_category
        at = require_past(cmd.completed_at or now, now, field="completed_at")
        if self.started_at is not None and at < self.started_at:
            raise Invalid(f"{self.label} started at {self.started_at:%Y-%m-%d %H:%M} UTC: it cannot be "
                          "completed before", field="completed_at")
        if cmd.duration_minutes <= 0:
            raise Invalid("the duration must be positive", field="duration_minutes")
        self.status, self.completed_at = SurgeryStatus.completed, at
        self.duration_minutes, self.outcome = cmd.duration_minutes, SurgeryOutcome(cmd.outcome)
        case.operated(now)
        self.happened(events.surgery_completed(self, mission, case))

    # -- rules -------------------------------------------------------------------------

    def _check_slot(self, *, mission: Mission, room: OperatingRoom, tz: ZoneInfo, others: Iterable[Surgery],
                    site_field: str | None = None) -> None:
        """``site_field``: the field a practitioner at another site that day is refused on (default:
        theirs, ``lead_surgeon_id`` or ``anaesthetist_id``; a move names ``scheduled_start``)."""
        if self.expected_duration_minutes <= 0:
            raise Invalid("the expected duration must be positive", field="expected_duration_minutes")
        site = self.site_institution_id or mission.host_institution_id
        if room.institution_id != site:
            raise Invalid(f"operating room {room.name!r} ({room.id}) is at institution {room.institution_id}, not at "
                          f"the site of {self.label} (institution {site}, its case's)", field="operating_room_id")
        mission.require_surgeon(self.lead_surgeon_id)
        if self.anaesthetist_id is not None:
            mission.require_as(self.anaesthetist_id, PractitionerRole.anaesthetist)
        start, end = self.scheduled_start, self.scheduled_end
        require_within_mission(mission, start, end, tz, what=self.label)
        first, last = local_days(start, end, tz)
        mission.require_site_day(site, first, last, what=self.label, field="scheduled_start")
        for practitioner_id in self.people:
            mission.require_on_site(practitioner_id, first, last, what=self.label)
        room.require_open(start, end, tz)
        others = list(others)
        self._require_one_site_a_day(mission, site, first, last, tz, others, field=site_field)
        turnover = timedelta(minutes=room.turnover_for(mission.specialty))
        for other in others:
            if other.id == self.id or other.status is SurgeryStatus.cancelled:
                continue
            when = f"from {_local(other.scheduled_start, tz)} to {_local(other.scheduled_end, tz)} ({tz.key})"
            overlaps = other.scheduled_start < end and start < other.scheduled_end
            if other.operating_room_id == room.id and (overlaps or (
                    other.scheduled_start < end + turnover and start < other.scheduled_end + turnover)):
                if overlaps:
                    raise Conflict(f"operating room {room.name!r} is already taken {when} by {other.label}")
                raise Conflict(f"operating room {room.name!r} needs {turnover_minutes(room, mission)} min between "
                               f"two surgeries (its turnover): {other.label} runs {when}")
            if not overlaps:
                continue
            if other.lead_surgeon_id == self.lead_surgeon_id:
                surgeon = mission.member(self.lead_surgeon_id)
                name = surgeon.full_name if surgeon else str(self.lead_surgeon_id)
                raise Conflict(f"surgeon {name} ({self.lead_surgeon_id}) is already operating {when} "
                               f"({other.label})")
            if self.anaesthetist_id is not None and other.anaesthetist_id == self.anaesthetist_id:
                member = mission.member(self.anaesthetist_id)
                name = member.full_name if member else str(self.anaesthetist_id)
                raise Conflict(f"anaesthetist {name} ({self.anaesthetist_id}) is already in {other.label} {when}")

    def _require_one_site_a_day(self, mission: Mission, site: uuid.UUID, first: date, last: date, tz: ZoneInfo,
                                others: Iterable[Surgery], *, field: str | None = None) -> None:
        """A practitioner works at one host site a day: none of those booked on this surgery (its
        lead, its anaesthetist) is booked the same day on a surgery of the mission at another site,
        else a 422 naming them and that site. Days are counted on this surgery's site's calendar."""
        for other in others:
            if (other.id == self.id or other.status is SurgeryStatus.cancelled or other.mission_id != mission.id
                    or (other.site_institution_id or mission.host_institution_id) == site):
                continue
            o_first, o_last = other.days(tz)
            if o_last < first or last < o_first:
                continue
            for practitioner_id, own_field in ((self.lead_surgeon_id, "lead_surgeon_id"),
                                               (self.anaesthetist_id, "anaesthetist_id")):
                if practitioner_id is None or practitioner_id not in other.people:
                    continue
                member = mission.member(practitioner_id)
                who = f"{member.role.value} {member.full_name}" if member else "practitioner"
                raise Invalid(f"{who} ({practitioner_id}) is already booked on {o_first} at institution "
                              f"{other.site_institution_id or mission.host_institution_id} ({other.label}), another "
                              f"host site of the mission: a practitioner works at one site a day",
                              field=field or own_field)

    def _require(self, *allowed: SurgeryStatus, action: str) -> None:
        if self.status not in allowed:
            expected = " or ".join(s.value for s in allowed)
            raise Conflict(f"cannot {action} {self.label}: it is {self.status.value} (must be {expected})")


def turnover_minutes(room: OperatingRoom, mission: Mission) -> int:
    """The one turnover rule, for every booking and for the optimiser: the room's own, else the
    default of the mission's specialty (``resources.SPECIALTY_TURNOVER_MINUTES``)."""
    return room.turnover_for(mission.specialty)


def turnover_window(room: OperatingRoom, mission: Mission) -> timedelta:
    """How far around a slot a booking must look for the room's neighbours."""
    return timedelta(minutes=turnover_minutes(room, mission))


def _local(instant: datetime, tz: ZoneInfo) -> str:
    return f"{instant.astimezone(tz):%Y-%m-%d %H:%M}"


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason", field="reason")
    return reason


def require_room_keeps(room: OperatingRoom, planned: Iterable[Surgery], tz: ZoneInfo) -> None:
    """New hours (or a new time zone) must still hold every surgery planned in the room."""
    for surgery in planned:
        try:
            room.require_open(surgery.scheduled_start, surgery.scheduled_end, tz)
        except Conflict:
            raise Conflict(
                f"{surgery.label} is booked in {room.name!r} from {_local(surgery.scheduled_start, tz)} to "
                f"{_local(surgery.scheduled_end, tz)} ({tz.key}), outside {room.hours}: move or cancel it first"
            ) from None


def check_intensive_care(day: date, days: int, beds: int, stays: Iterable[tuple[str, date, int]]) -> None:
    """A surgery whose patient then holds an intensive-care bed for ``days`` from
    ``day`` needs a free bed on each of them, among the host's ``beds`` and the
    ``stays`` (label, first day, days) of the other surgeries there. ``beds`` 0:
    the host has not said, and nothing is checked (as the optimiser does)."""
    if beds <= 0 or days <= 0:
        return
    stays = list(stays)
    for offset in range(days):
        d = day + timedelta(days=offset)
        holding = [label for label, first, n in stays if first <= d < first + timedelta(days=n)]
        if len(holding) >= beds:
            raise Conflict(f"no intensive-care bed free on {d.isoformat()}: the host's {beds} are held after "
                           f"{', '.join(holding)} (the patient needs one for {days} day(s) from {day.isoformat()})")
