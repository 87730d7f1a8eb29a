"""Missions: a visiting team's stay at a host institution under a convention.

Lifecycle::

    scheduled ──start──> started ──complete──> completed
      │  ▲  │
      │  │  └──reschedule (new dates, checked again)
      │  │
      │  └──release (convention resumed)
      ├──put on hold (convention suspended) ──> on_hold
      └──cancel (by hand, or convention terminated/expired; also from on_hold) ──> cancelled

A practitioner is never on two missions whose dates overlap (cancelled
missions hold nobody). Pure: no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from scheduling.domain import events
from scheduling.domain.conventions import ConventionReplica
from scheduling.domain.values import MAX_SITES, MissionSite, MissionStatus, TeamChange, TeamMember
from jumelage.domain import Aggregate
from jumelage.errors import Conflict, Invalid, NotFound
from jumelage.events.convention import PartyRole
from jumelage.events.scheduling import PractitionerRole

if TYPE_CHECKING:  # commands name the aggregates' value types: imported for annotations only
    from scheduling.domain.commands import ScheduleMission


NOT_STARTED = (MissionStatus.scheduled, MissionStatus.on_hold)
_Dated = TypeVar("_Dated", TeamMember, MissionSite)

PLANNABLE = (MissionStatus.scheduled, MissionStatus.started)
"""Surgeries, consultations and training can be planned into a mission in these states."""


@dataclass(frozen=True)
class Totals:
    surgeries: int = 0
    consultations: int = 0
    training_sessions: int = 0


@dataclass(frozen=True)
class Booked:
    """Something planned in a mission, as host-calendar days (see ``resources.local_days``)."""

    what: str
    first_day: date
    last_day: date
    people: tuple[uuid.UUID, ...] = ()  # the practitioners it needs on site (a surgery's lead and anaesthetist)
    site: uuid.UUID | None = None  # the host site it takes place at (None: not tied to one)


@dataclass
class Mission(Aggregate):
    id: uuid.UUID
    convention_id: uuid.UUID
    host_institution_id: uuid.UUID
    visiting_institution_id: uuid.UUID
    specialty: str
    starts_on: date
    ends_on: date
    team: list[TeamMember]
    status: MissionStatus = MissionStatus.scheduled
    status_reason: str | None = None
    totals: Totals | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Kept by the store: raised on every change (its team included), and when.
    version: int = 0
    updated_at: datetime | None = None
    # Its host sites, the host first (empty: the host alone, on every day of the mission).
    sites: list[MissionSite] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.sites:
            self.sites = [MissionSite(self.host_institution_id)]

    @classmethod
    def schedule(cls, cmd: ScheduleMission, convention: ConventionReplica, others: Iterable[Mission]) -> Mission:
        """``others``: missions that share a practitioner with this team and may overlap its dates."""
        _check_period(cmd.starts_on, cmd.ends_on)
        team = _checked_team(cmd.team, cmd.starts_on, cmd.ends_on)
        specialty = convention.admit_mission(
            host_institution_id=cmd.host_institution_id, visiting_institution_id=cmd.visiting_institution_id,
            specialty=cmd.specialty, starts_on=cmd.starts_on, ends_on=cmd.ends_on,
        )
        sites = _checked_sites(cmd.sites or (MissionSite(cmd.host_institution_id),), cmd.host_institution_id,
                               cmd.starts_on, cmd.ends_on, convention)
        mission = cls(id=uuid.uuid4(), convention_id=convention.id, host_institution_id=cmd.host_institution_id,
                      visiting_institution_id=cmd.visiting_institution_id, specialty=specialty,
                      starts_on=cmd.starts_on, ends_on=cmd.ends_on, team=team, sites=sites)
        mission.require_team_free(team, others)
        mission.happened(events.mission_scheduled(mission))
        return mission

    # -- lifecycle -------------------------------------------------------------------

    def reschedule(self, starts_on: date, ends_on: date, reason: str, convention: ConventionReplica,
                   others: Iterable[Mission], planned: Iterable[Booked] = ()) -> str:
        """``planned``: what is already booked in the mission (surgeries, consultations,
        training), each of which must still fall within the new dates."""
        self._require(MissionStatus.scheduled, action="reschedule")
        reason = _reason(reason)
        _check_period(starts_on, ends_on)
        if (starts_on, ends_on) == (self.starts_on, self.ends_on):
            raise Invalid(f"mission {self.id} already runs from {starts_on} to {ends_on}", field="starts_on")
        convention.require_open_for_missions()
        convention.admit_dates(starts_on, ends_on)
        planned = list(planned)
        outside = [b.what for b in planned if b.first_day < starts_on or b.last_day > ends_on]
        if outside:
            raise Conflict(f"{', '.join(sorted(outside))} would fall outside {starts_on} to {ends_on}: "
                           "move or cancel them first")
        self.require_team_free(self.team, others, starts_on=starts_on, ends_on=ends_on)
        delta = starts_on - self.starts_on
        team = _shifted(self.team, ("arrives_on", "leaves_on"), delta, starts_on, ends_on,
                        lambda m, day: f"practitioner {m.full_name} ({m.practitioner_id}) would be on site on "
                                       f"{day}, outside {starts_on} to {ends_on}: change their on-site dates first")
        sites = _shifted(self.sites, ("starts_on", "ends_on"), delta, starts_on, ends_on,
                         lambda s, day: f"the mission's days at institution {s.institution_id} would fall on "
                                        f"{day}, outside {starts_on} to {ends_on}: change that site's days first")
        moved = replace(self, starts_on=starts_on, ends_on=ends_on, team=team, sites=sites)
        for b in planned:
            for practitioner_id in b.people:
                moved.require_on_site(practitioner_id, b.first_day, b.last_day, what=b.what)
            if b.site is not None:
                moved.require_site_day(b.site, b.first_day, b.last_day, what=b.what, conflict=True)
        before = {m.practitioner_id: m for m in self.team}
        self.starts_on, self.ends_on, self.team, self.sites = starts_on, ends_on, team, sites
        self.happened(events.mission_rescheduled(self, reason))
        # Members with days of their own: those moved with the mission, each its MissionTeamChanged.
        for member in team:
            if member != before[member.practitioner_id]:
                self.happened(events.mission_team_changed(self, TeamChange.dates_changed, member))
        return reason

    def cancel(self, reason: str) -> str:
        self._require(*NOT_STARTED, action="cancel")
        self.status, self.status_reason = MissionStatus.cancelled, _reason(reason)
        self.happened(events.mission_cancelled(self))
        return self.status_reason

    def start(self) -> None:
        if self.status is MissionStatus.on_hold:
            raise Conflict(f"mission {self.id} is on_hold ({self.status_reason}): it cannot start until its "
                           "convention resumes")
        self._require(MissionStatus.scheduled, action="start")
        self.status, self.status_reason = MissionStatus.started, None
        self.happened(events.mission_started(self))

    def complete(self, totals: Totals, in_progress: Iterable[str] = ()) -> None:
        """``in_progress``: surgeries started and not yet completed (they must end first).
        What is still only scheduled is cancelled by the caller: it did not happen."""
        self._require(MissionStatus.started, action="complete")
        busy = sorted(in_progress)
        if busy:
            raise Conflict(f"mission {self.id} still has {', '.join(busy)} in progress: complete them first")
        self.status, self.totals = MissionStatus.completed, totals
        self.happened(events.mission_completed(self))

    def put_on_hold(self, reason: str) -> bool:
        """Only a scheduled mission waits; False if there was nothing to do."""
        if self.status is not MissionStatus.scheduled:
            return False
        self.status, self.status_reason = MissionStatus.on_hold, reason.strip() or "convention suspended"
        self.happened(events.mission_suspended(self))
        return True

    def release(self) -> bool:
        if self.status is not MissionStatus.on_hold:
            return False
        self.status, self.status_reason = MissionStatus.scheduled, None
        self.happened(events.mission_resumed(self))
        return True

    def require_plannable(self, what: str) -> None:
        if self.status not in PLANNABLE:
            raise Conflict(f"mission {self.id} is {self.status.value}: {what} can be planned only while it is "
                           "scheduled or started")

    def require_started(self, action: str) -> None:
        if self.status is not MissionStatus.started:
            raise Conflict(f"mission {self.id} is {self.status.value}: {action} only during the mission "
                           "(once started)")

    # -- sites -----------------------------------------------------------------------

    def site(self, institution_id: uuid.UUID) -> MissionSite | None:
        return next((s for s in self.sites if s.institution_id == institution_id), None)

    @property
    def site_ids(self) -> tuple[uuid.UUID, ...]:
        return tuple(s.institution_id for s in self.sites)

    def site_days(self, site: MissionSite) -> tuple[date, date]:
        """The first and last day of the mission at ``site`` (the mission's where it says nothing)."""
        return site.starts_on or self.starts_on, site.ends_on or self.ends_on

    def require_site(self, institution_id: uuid.UUID, *, field: str, what: str) -> MissionSite:
        """``institution_id`` is a host site of the mission, else a 422 naming ``field``."""
        site = self.site(institution_id)
        if site is None:
            raise Invalid(f"{what}, which is not a host site of mission {self.id} (its sites: "
                          f"{', '.join(str(i) for i in self.site_ids)})", field=field)
        return site

    def require_site_day(self, institution_id: uuid.UUID, first_day: date, last_day: date, *, what: str,
                         field: str = "scheduled_start", conflict: bool = False) -> None:
        """[first_day, last_day] lies within the mission's days at that site: else a 422 naming
        ``field`` (a booking), or a 409 (``conflict``: something booked that a change would strand)."""
        site = self.site(institution_id)
        if site is None:
            raise Conflict(f"{what} is at institution {institution_id}, no longer a host site of mission {self.id}")
        first, last = self.site_days(site)
        if first <= first_day and last_day <= last:
            return
        when = first_day.isoformat() if first_day == last_day else f"{first_day} to {last_day}"
        message = (f"{what} would take place on {when}, outside the mission's days at institution "
                   f"{institution_id} ({first} to {last})")
        if conflict:
            raise Conflict(message + ": move or cancel it first")
        raise Invalid(message, field=field)

    def set_site(self, site: MissionSite, convention: ConventionReplica, booked: Iterable[Booked] = ()) -> bool:
        """Add a host site, or change the days of one (``booked``: what is planned in the mission,
        each of which must still fall on its site's days). True if it was added."""
        self._require(*NOT_STARTED, MissionStatus.started, action="change the sites of")
        current = self.site(site.institution_id)
        sites = [site if s.institution_id == site.institution_id else s for s in self.sites]
        if current is None:
            sites.append(site)
        (checked,) = [s for s in _checked_sites(sites, self.host_institution_id, self.starts_on, self.ends_on,
                                                convention, prefix="") if s.institution_id == site.institution_id]
        if current is not None and self.site_days(current) == self.site_days(checked):
            first, last = self.site_days(current)
            raise Invalid(f"the mission is already at institution {site.institution_id} from {first} to {last}",
                          field="starts_on")
        moved = replace(self, sites=[checked if s.institution_id == checked.institution_id else s for s in sites])
        for b in booked:
            if b.site == checked.institution_id:
                moved.require_site_day(b.site, b.first_day, b.last_day, what=b.what, conflict=True)
        self.sites = moved.sites
        self.happened(events.mission_sites_changed(self, checked.institution_id,
                                                   "site_added" if current is None else "days_changed"))
        return current is None

    def remove_site(self, institution_id: uuid.UUID, booked: Iterable[Booked] = ()) -> None:
        """A site the mission no longer visits: never the host, nor one with something planned there."""
        self._require(*NOT_STARTED, MissionStatus.started, action="change the sites of")
        if self.site(institution_id) is None:
            raise NotFound(f"institution {institution_id} is not a host site of mission {self.id}")
        if institution_id == self.host_institution_id:
            raise Conflict(f"institution {institution_id} is mission {self.id}'s host: it stays a site")
        there = sorted(b.what for b in booked if b.site == institution_id)
        if there:
            raise Conflict(f"{', '.join(there)} take(s) place at institution {institution_id}: move or cancel "
                           "them first")
        self.sites = [s for s in self.sites if s.institution_id != institution_id]
        self.happened(events.mission_sites_changed(self, institution_id, "site_removed"))

    # -- team ------------------------------------------------------------------------

    def add_member(self, member: TeamMember, others: Iterable[Mission]) -> TeamMember:
        self._require(*NOT_STARTED, action="change the team of")
        (member,) = _checked_team((member,), self.starts_on, self.ends_on, prefix="")
        current = self.member(member.practitioner_id)
        if current is not None:
            raise Conflict(f"practitioner {current.full_name} ({current.practitioner_id}) is already on the team "
                           f"of mission {self.id}")
        self.require_team_free((member,), others)
        self.team.append(member)
        self.happened(events.mission_team_changed(self, TeamChange.added, member))
        return member

    def change_on_site(self, practitioner_id: uuid.UUID, arrives_on: date | None, leaves_on: date | None,
                       booked: Iterable[Booked] = ()) -> TeamMember:
        """A member arrives later or leaves earlier (None: the mission's first / last day), also
        once the mission has started. ``booked``: the planned surgeries they lead or are the
        anaesthetist of, each of which must still fall on their days."""
        self._require(*NOT_STARTED, MissionStatus.started, action="change the team of")
        member = self.member(practitioner_id)
        if member is None:
            raise NotFound(f"practitioner {practitioner_id} is not on the team of mission {self.id}")
        (changed,) = _checked_team((replace(member, arrives_on=arrives_on, leaves_on=leaves_on),), self.starts_on,
                                   self.ends_on, prefix="")
        if self.on_site_days(changed) == self.on_site_days(member):
            first, last = self.on_site_days(member)
            raise Invalid(f"practitioner {member.full_name} is already on site from {first} to {last}",
                          field="arrives_on")
        for b in booked:
            if not changed.on_site(b.first_day, b.last_day):
                first, last = self.on_site_days(changed)
                raise Conflict(f"practitioner {member.full_name} ({practitioner_id}) is booked on {b.what} on "
                               f"{b.first_day}, outside {first} to {last}: move or cancel it first")
        self.team[self.team.index(member)] = changed
        self.happened(events.mission_team_changed(self, TeamChange.dates_changed, changed))
        return changed

    def remove_member(self, practitioner_id: uuid.UUID, leads: Iterable[uuid.UUID] = ()) -> TeamMember:
        """``leads``: the planned surgeries this practitioner leads or is the anaesthetist of."""
        self._require(*NOT_STARTED, action="change the team of")
        member = self.member(practitioner_id)
        if member is None:
            raise NotFound(f"practitioner {practitioner_id} is not on the team of mission {self.id}")
        leads = sorted(str(s) for s in leads)
        if leads:
            raise Conflict(f"practitioner {member.full_name} ({practitioner_id}) is booked on planned surgeries "
                           f"{', '.join(leads)}: cancel them (or schedule them again with someone else) first")
        if len(self.team) == 1:
            raise Conflict(f"practitioner {member.full_name} is the only member of mission {self.id}'s team")
        self.team.remove(member)
        self.happened(events.mission_team_changed(self, TeamChange.removed, member))
        return member

    def on_site_days(self, member: TeamMember) -> tuple[date, date]:
        """The first and last day ``member`` is on site (the mission's where they say nothing)."""
        return member.arrives_on or self.starts_on, member.leaves_on or self.ends_on

    def home_of(self, member: TeamMember) -> uuid.UUID:
        return member.home_institution_id or self.visiting_institution_id

    def is_local(self, member: TeamMember) -> bool:
        """A practitioner of the host: their home institution is one of the mission's host sites
        (for a single-host mission, its host)."""
        return self.home_of(member) in self.site_ids

    def require_on_site(self, practitioner_id: uuid.UUID, first_day: date, last_day: date, *, what: str) -> None:
        """The practitioner is on site every day from ``first_day`` to ``last_day``, else a 409 naming who and when."""
        member = self.member(practitioner_id)
        if member is None or member.on_site(first_day, last_day):
            return
        first, last = self.on_site_days(member)
        when = first_day.isoformat() if first_day == last_day else f"{first_day} to {last_day}"
        raise Conflict(f"{member.role.value} {member.full_name} ({practitioner_id}) is on site from {first} to "
                       f"{last}, not on {when} ({what})")

    def member(self, practitioner_id: uuid.UUID) -> TeamMember | None:
        return next((m for m in self.team if m.practitioner_id == practitioner_id), None)

    def require_surgeon(self, practitioner_id: uuid.UUID) -> TeamMember:
        return self.require_as(practitioner_id, PractitionerRole.surgeon)

    def require_as(self, practitioner_id: uuid.UUID, role: PractitionerRole) -> TeamMember:
        member = self.member(practitioner_id)
        if member is None:
            raise Conflict(f"practitioner {practitioner_id} is not on the team of mission {self.id}")
        if member.role is not role:
            raise Conflict(f"practitioner {member.full_name} ({practitioner_id}) is on mission {self.id}'s team "
                           f"as {member.role.value}, not as {role.value}")
        return member

    def overlaps(self, starts_on: date, ends_on: date) -> bool:
        return self.starts_on <= ends_on and starts_on <= self.ends_on

    def require_team_free(self, team: Iterable[TeamMember], others: Iterable[Mission], *,
                          starts_on: date | None = None, ends_on: date | None = None) -> None:
        """No member of ``team`` is on another live mission whose dates overlap this
        one's (or the given dates)."""
        starts_on, ends_on = starts_on or self.starts_on, ends_on or self.ends_on
        for other in others:
            if other.id == self.id or other.status is MissionStatus.cancelled:
                continue
            if not other.overlaps(starts_on, ends_on):
                continue
            for member in team:
                if other.member(member.practitioner_id) is not None:
                    raise Conflict(
                        f"practitioner {member.full_name} ({member.practitioner_id}) is already on mission "
                        f"{other.id} from {other.starts_on} to {other.ends_on}, which overlaps "
                        f"{starts_on} to {ends_on}"
                    )

    def _require(self, *allowed: MissionStatus, action: str) -> None:
        if self.status not in allowed:
            expected = " or ".join(s.value for s in allowed)
            raise Conflict(f"cannot {action} mission {self.id}: it is {self.status.value} (must be {expected})")


def _check_period(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise Invalid(f"the mission would end ({ends_on}) before it starts ({starts_on})", field="ends_on")


def _checked_team(team: Iterable[TeamMember], starts_on: date, ends_on: date, *,
                  prefix: str | None = None) -> list[TeamMember]:
    """``prefix``: how an error names a member's field (default ``team.<i>.``; "" for one member's body)."""
    checked: list[TeamMember] = []
    seen: set[uuid.UUID] = set()
    for i, member in enumerate(team):
        at = f"team.{i}." if prefix is None else prefix
        name = " ".join(member.full_name.split())
        if not name:
            raise Invalid("a team member needs a name", field=f"{at}full_name")
        if member.practitioner_id in seen:
            raise Invalid(f"practitioner {member.practitioner_id} is listed twice", field=f"{at}practitioner_id")
        seen.add(member.practitioner_id)
        for key, day in (("arrives_on", member.arrives_on), ("leaves_on", member.leaves_on)):
            if day is not None and not starts_on <= day <= ends_on:
                raise Invalid(f"{name} would be on site on {day}, outside the mission ({starts_on} to {ends_on})",
                              field=f"{at}{key}")
        if (member.arrives_on or starts_on) > (member.leaves_on or ends_on):
            raise Invalid(f"{name} would leave ({member.leaves_on or ends_on}) before arriving "
                          f"({member.arrives_on or starts_on})", field=f"{at}leaves_on")
        checked.append(TeamMember(member.practitioner_id, name, PractitionerRole(member.role),
                                  member.home_institution_id, member.arrives_on, member.leaves_on))
    if not checked:
        raise Invalid("a mission needs at least one team member", field="team")
    return checked


def _checked_sites(sites: Iterable[MissionSite], host: uuid.UUID, starts_on: date, ends_on: date,
                   convention: ConventionReplica, *, prefix: str | None = None) -> list[MissionSite]:
    """Each site a beneficiary of the convention, listed once, its days within the mission's; the
    host among them (first). ``prefix``: how an error names a site's field (default ``sites.<i>.``)."""
    checked: list[MissionSite] = []
    beneficiaries = convention.party_ids(PartyRole.beneficiary)
    for i, site in enumerate(sites):
        at = f"sites.{i}." if prefix is None else prefix
        if any(s.institution_id == site.institution_id for s in checked):
            raise Invalid(f"institution {site.institution_id} is listed twice", field=f"{at}institution_id")
        if site.institution_id not in beneficiaries:
            raise Invalid(f"institution {site.institution_id} is not a beneficiary of convention "
                          f"{convention.label}: it cannot host the mission", field=f"{at}institution_id")
        for key, day in (("starts_on", site.starts_on), ("ends_on", site.ends_on)):
            if day is not None and not starts_on <= day <= ends_on:
                raise Invalid(f"the mission's days at institution {site.institution_id} would include {day}, "
                              f"outside the mission ({starts_on} to {ends_on})", field=f"{at}{key}")
        if (site.starts_on or starts_on) > (site.ends_on or ends_on):
            raise Invalid(f"the mission would leave institution {site.institution_id} "
                          f"({site.ends_on or ends_on}) before arriving ({site.starts_on or starts_on})",
                          field=f"{at}ends_on")
        # A site's days that are the mission's are kept as "the mission's" (they move with it).
        checked.append(MissionSite(site.institution_id, None if site.starts_on == starts_on else site.starts_on,
                                   None if site.ends_on == ends_on else site.ends_on))
    if len(checked) > MAX_SITES:
        raise Invalid(f"a mission visits at most {MAX_SITES} sites", field="sites")
    hosts = [s for s in checked if s.institution_id == host]
    if not hosts:
        raise Invalid(f"the mission's host {host} must be one of its sites", field="sites")
    return [*hosts, *(s for s in checked if s.institution_id != host)]


def _shifted(items: list[_Dated], keys: tuple[str, str], delta: timedelta, starts_on: date, ends_on: date,
             outside: Callable[[_Dated, date], str]) -> list[_Dated]:
    """Team members' on-site dates or sites' days (``keys``: the two date fields, None meaning the
    mission's first / last day) moved with the mission's start by ``delta``; each must still lie within
    ``starts_on`` to ``ends_on``, else a 409 (``outside`` says who and when)."""
    moved_items = []
    for item in items:
        moved = replace(item, **{k: getattr(item, k) and getattr(item, k) + delta for k in keys})  # type: ignore[type-var]
        for day in (getattr(moved, k) for k in keys):
            if day is not None and not starts_on <= day <= ends_on:
                raise Conflict(outside(item, day))
        moved_items.append(moved)
    return moved_items


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason", field="reason")
    return reason
