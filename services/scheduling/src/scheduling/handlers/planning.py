"""The surgery plan of a mission: propose one (the optimiser; nothing is written) and apply
one (its assignments scheduled or rescheduled in one unit of work, all or none).

The optimiser (``scheduling.adapters.optimiser``) works on the host's wall clock as (day of the
mission, minute of the day); this module translates to and from UTC instants.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduling.adapters import optimiser as planner
from scheduling.domain.cases import CaseStatus, PatientCase
from scheduling.domain.missions import Mission
from scheduling.domain.planning import (POST_OPERATIVE_DAYS, PlannerDefaults, ProposedPlan, ProposedSurgery, Unplanned,
                                       away_days)
from scheduling.domain.resources import OperatingRoom
from scheduling.domain.commands import ApplyPlan, PlannedSurgery, ProposePlan, RescheduleSurgery, ScheduleSurgery
from scheduling.domain.surgeries import Surgery, SurgeryStatus, turnover_minutes
from scheduling.handlers.common import host_lock, mission_for_update, zone_of
from scheduling.handlers.surgeries import require_intensive_care
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock
from jumelage.metrics import optimiser_run
from jumelage.errors import Conflict, Invalid, NotFound
from jumelage.events.scheduling import PractitionerRole


async def propose_plan(cmd: ProposePlan, uow: SchedulingUnitOfWork, *, clock: Clock,
                       planner_defaults: PlannerDefaults) -> ProposedPlan:
    now = clock.now()
    settings = PlannerDefaults(
        time_limit_seconds=(cmd.time_limit_seconds if cmd.time_limit_seconds is not None
                            else planner_defaults.time_limit_seconds),
        turnover_minutes=(cmd.turnover_minutes if cmd.turnover_minutes is not None
                          else planner_defaults.turnover_minutes),
        max_daily_minutes_per_surgeon=(cmd.max_daily_minutes_per_surgeon if cmd.max_daily_minutes_per_surgeon
                                       is not None else planner_defaults.max_daily_minutes_per_surgeon),
    )
    if settings.time_limit_seconds <= 0:
        raise Invalid("the time limit must be positive", field="time_limit_seconds")
    async with uow:  # read only: nothing is committed
        mission = await uow.missions.get(cmd.mission_id)
        if mission is None:
            raise NotFound(f"no mission {cmd.mission_id}")
        mission.require_plannable("surgeries")
        # Each host site: its resources (time zone, beds) and rooms; the host's first.
        site_resources = {site: await uow.hosts.get(site) for site in mission.site_ids}
        resources = site_resources[mission.host_institution_id]
        rooms = [r for site in mission.site_ids for r in await uow.rooms.of_host(site)]
        cases = await _cases(uow, mission, cmd.case_ids)
        # By default only ready cases are planned; the others are listed with what they lack.
        unready = [] if cmd.include_unready else [c for c in cases if not c.ready]
        cases = [c for c in cases if c.ready] if unready else cases
        surgeries = [s for s in await uow.surgeries.of_mission(mission.id) if s.status is not SurgeryStatus.cancelled]
        booked_cases = {s.case_id: await uow.cases.get(s.case_id) for s in surgeries}
        others = [s for r in rooms for s in await uow.surgeries.planned_in_room(r.id) if s.mission_id != mission.id]
    walls = {site: _Clock(mission, zone_of(r)) for site, r in site_resources.items()}
    wall = walls[mission.host_institution_id]
    room_site = {r.id: r.institution_id for r in rooms}
    # Restricted only where the mission is not its host alone on all its days (else as before).
    multi = len(mission.sites) > 1 or mission.site_days(mission.sites[0]) != (mission.starts_on, mission.ends_on)

    def wall_of(site: uuid.UUID | None) -> _Clock:
        return walls.get(site or mission.host_institution_id, wall)

    days = (mission.ends_on - mission.starts_on).days + 1
    # Several sites: each case only in its site's rooms, on the mission's days there.
    site_rooms = {site: frozenset(r.id for r in rooms if r.institution_id == site) for site in mission.site_ids}
    site_days = {}
    for site in mission.sites:
        first, last = mission.site_days(site)
        site_days[site.institution_id] = frozenset(range((first - mission.starts_on).days,
                                                         (last - mission.starts_on).days + 1))
    pinned, locked = _pins(cmd, mission, surgeries)
    # The rooms' turnovers: the rule every booking checks (domain.surgeries.turnover_minutes), unless
    # the request sets one for every room.
    turnovers = {r.id: settings.turnover_minutes if settings.turnover_minutes is not None
                 else turnover_minutes(r, mission) for r in rooms}
    bookings = []
    for s in surgeries:
        case = booked_cases[s.case_id]
        assert case is not None  # a foreign key
        day, minute = wall_of(s.site_institution_id).at(s.scheduled_start)
        fixed = s.status is not SurgeryStatus.scheduled or s.scheduled_start < now
        bookings.append(planner.Booking(_case(case, s.expected_duration_minutes, sites=(site_rooms, site_days)
                                              if multi else None), s.id, day, s.operating_room_id,
                                        minute, s.lead_surgeon_id, fixed=fixed, anaesthetist_id=s.anaesthetist_id))
    blocked = []
    for s in others:
        day, minute = wall_of(room_site.get(s.operating_room_id)).at(s.scheduled_start)
        if 0 <= day < days:
            blocked.append(planner.Blocked(s.operating_room_id, day, minute, minute + s.expected_duration_minutes))
    request = planner.PlanRequest(
        days=days,
        rooms=[planner.Room(r.id, r.name, r.opens_at.hour * 60 + r.opens_at.minute,
                            r.closes_at.hour * 60 + r.closes_at.minute, turnovers[r.id],
                            site=r.institution_id if multi else None) for r in rooms],
        surgeons=[m.practitioner_id for m in mission.team if m.role is PractitionerRole.surgeon],
        anaesthetists=[m.practitioner_id for m in mission.team if m.role is PractitionerRole.anaesthetist],
        # No bed recorded (the default, 0) is read as "not recorded", not as "no intensive care".
        cases=[_case(c, sites=(site_rooms, site_days) if multi else None) for c in cases],
        icu_beds=resources.icu_beds if resources and resources.icu_beds else None,
        # Several sites: each site's own beds (none recorded: not a constraint there).
        ward_beds={site: r.icu_beds if r and r.icu_beds else None for site, r in site_resources.items()}
        if multi else {},
        bookings=bookings, blocked=blocked, earliest=wall.earliest(now, days),
        turnover_minutes=settings.turnover_minutes if settings.turnover_minutes is not None else 0,
        max_daily_minutes_per_surgeon=settings.max_daily_minutes_per_surgeon,
        away=away_days(mission),
        time_limit_seconds=settings.time_limit_seconds,
        post_operative_days={**POST_OPERATIVE_DAYS, **{(s, c): d for s, c, d in cmd.post_operative_days}},
        icu_beds_after_mission=cmd.icu_beds_after_mission, pinned=pinned, locked_days=locked,
    )
    plan = await asyncio.to_thread(optimiser_run, planner.solve, request)  # CPU-bound: off the event loop; counted, timed
    plan.unplanned += [Unplanned(c.id, c.patient_ref, "not ready: " + ", ".join(
        item.value.replace("_", " ") for item in c.missing) + " (its readiness checklist)") for c in unready]
    if unready:
        plan.reasons.append(f"{len(unready)} case(s) not ready were left out (include_unready plans them too)")
    if not any(r and r.icu_beds for r in site_resources.values()):
        plan.reasons.append("the host's intensive-care beds are not recorded (PUT /institutions/{id}/resources): "
                            "beds were not a constraint")
    names = {r.id: r.name for r in rooms}
    refs = {c.id: c.patient_ref for c in [*cases, *(c for c in booked_cases.values() if c)]}
    lines = []
    for a in plan.assignments:
        start = wall_of(room_site.get(a.room_id)).instant(a.day, a.start_minute)
        change = "fixed" if a.fixed else "moved" if a.moved else "kept" if a.surgery_id else "new"
        lines.append(ProposedSurgery(
            case_id=a.case_id, patient_ref=refs.get(a.case_id, a.ref), surgery_id=a.surgery_id,
            operating_room_id=a.room_id, operating_room=names.get(a.room_id, str(a.room_id)), scheduled_start=start,
            scheduled_end=start + timedelta(minutes=a.duration_minutes), expected_duration_minutes=a.duration_minutes,
            lead_surgeon_id=a.surgeon_id, anaesthetist_id=a.anaesthetist_id, icu_days=a.icu_days, change=change,
            moved_minutes=a.moved_minutes, pinned=a.pinned))
    return ProposedPlan(mission.id, plan, lines, settings, turnovers)


async def apply_plan(cmd: ApplyPlan, uow: SchedulingUnitOfWork, *,
                     clock: Clock) -> tuple[list[Surgery], list[Surgery]]:
    """Schedule the new assignments and reschedule the moved ones, in one unit of work: each is
    checked by the surgery rules against where everything else will be (rooms, surgeons,
    anaesthetists, the host's intensive-care beds); any refusal and nothing is written.
    Returns (scheduled, rescheduled)."""
    reason = cmd.reason.strip()
    if not reason:
        raise Invalid("give a reason", field="reason")
    if not cmd.assignments:
        raise Invalid("a plan to apply needs at least one assignment", field="assignments")
    seen: set[uuid.UUID] = set()
    for i, a in enumerate(cmd.assignments):
        if a.case_id in seen:
            raise Invalid(f"case {a.case_id} is assigned twice", field=f"assignments.{i}.case_id")
        seen.add(a.case_id)
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id)
        await uow.lock(*(host_lock(site) for site in sorted(mission.site_ids, key=str)))
        mission.require_plannable("surgeries")
        site_resources = {site: await uow.hosts.get(site) for site in mission.site_ids}
        zones = {site: zone_of(r) for site, r in site_resources.items()}
        live = {s.id: s for s in await uow.surgeries.of_mission(mission.id) if s.status is not SurgeryStatus.cancelled}
        by_case = {s.case_id: s for s in live.values()}
        rooms: dict[uuid.UUID, OperatingRoom] = {}
        for a in cmd.assignments:
            if a.operating_room_id not in rooms:
                room = await uow.rooms.get(a.operating_room_id)
                if room is None:
                    raise NotFound(f"no operating room {a.operating_room_id}")
                rooms[room.id] = room
        host_rooms = [r for site in mission.site_ids for r in await uow.rooms.of_host(site)]
        final: dict[uuid.UUID, Surgery] = dict(live)  # where everything will be
        for r in host_rooms:
            final.update({s.id: s for s in await uow.surgeries.planned_in_room(r.id)})
        moves: list[tuple[Surgery, PlannedSurgery]] = []
        news: list[PlannedSurgery] = []
        for a in cmd.assignments:
            existing = by_case.get(a.case_id)
            if a.surgery_id is not None and (existing is None or existing.id != a.surgery_id):
                raise Conflict(f"surgery {a.surgery_id} is not the live surgery of case {a.case_id} in mission "
                               f"{mission.id}")
            if existing is None:
                news.append(a)
                continue
            if existing.lead_surgeon_id != a.lead_surgeon_id:
                raise Conflict(f"{existing.label} is led by {existing.lead_surgeon_id}: its lead surgeon cannot "
                               "change (cancel and schedule it)")
            if (existing.scheduled_start, existing.operating_room_id) == (a.scheduled_start, a.operating_room_id):
                continue  # kept
            if existing.status is not SurgeryStatus.scheduled:
                raise Conflict(f"cannot move {existing.label}: it is {existing.status.value}")
            room = rooms[a.operating_room_id]
            final[existing.id] = replace(existing, scheduled_start=a.scheduled_start, operating_room_id=room.id,
                                         operating_room=room.name)
            moves.append((existing, a))
        scheduled: list[tuple[Surgery, PatientCase]] = []
        for a in news:
            case = await uow.cases.get(a.case_id, for_update=True)
            if case is None:
                raise NotFound(f"no patient case {a.case_id}")
            surgery = Surgery.schedule(
                ScheduleSurgery(mission_id=mission.id, case_id=a.case_id, operating_room_id=a.operating_room_id,
                                scheduled_start=a.scheduled_start, lead_surgeon_id=a.lead_surgeon_id,
                                expected_duration_minutes=a.expected_duration_minutes,
                                anaesthetist_id=a.anaesthetist_id),
                mission=mission, case=case, room=rooms[a.operating_room_id],
                tz=zones.get(case.host_institution_id, zones[mission.host_institution_id]),
                others=list(final.values()))
            final[surgery.id] = surgery
            scheduled.append((surgery, case))
        rescheduled: list[Surgery] = []
        for existing, a in moves:
            surgery = await uow.surgeries.get(existing.id, for_update=True)
            assert surgery is not None
            others = [s for s in final.values() if s.id != surgery.id]
            site = surgery.site_institution_id or mission.host_institution_id
            surgery.reschedule(RescheduleSurgery(surgery.id, a.scheduled_start, reason, a.operating_room_id),
                               mission=mission, room=rooms[a.operating_room_id],
                               tz=zones.get(site, zones[mission.host_institution_id]), others=others)
            rescheduled.append(surgery)
        # The beds, each site's for its surgeries, all of them together where they will be (the
        # moved ones' cases read there).
        for site, site_res in site_resources.items():
            here = [(s, c) for s, c in scheduled if s.site_institution_id == site]
            here += [(s, None) for s in rescheduled if (s.site_institution_id or mission.host_institution_id) == site]
            if here:
                await require_intensive_care(uow, site_res, zones[site], here)
        # Every check passed: write.
        now = clock.now()
        for surgery, case in scheduled:
            await uow.cases.save(case, now)
            await uow.surgeries.save(surgery, now)
            uow.record_from(surgery)
        for surgery in rescheduled:
            await uow.surgeries.save(surgery, now)
            uow.record_from(surgery)
        await uow.commit()
    return [s for s, _ in scheduled], rescheduled


# -- translation ------------------------------------------------------------------------------


def _case(c: PatientCase, minutes: int | None = None, *,
          sites: tuple[dict[uuid.UUID, frozenset], dict[uuid.UUID, frozenset[int]]] | None = None) -> planner.Case:
    """``sites``: (each site's rooms, each site's day indices), for a mission at several sites:
    the case is planned only in its site's rooms, on the mission's days there, with its beds."""
    if sites is None:
        return planner.Case(c.id, c.patient_ref, c.priority, minutes or c.expected_duration_minutes,
                            c.risk_scheme.value, c.risk_category)
    rooms, days = sites
    return planner.Case(c.id, c.patient_ref, c.priority, minutes or c.expected_duration_minutes,
                        c.risk_scheme.value, c.risk_category, rooms=rooms.get(c.host_institution_id, frozenset()),
                        days=days.get(c.host_institution_id, frozenset()), ward=c.host_institution_id)


def _pins(cmd: ProposePlan, mission: Mission, surgeries: list[Surgery]) -> tuple[frozenset, frozenset[int]]:
    """The coordinator's pins, checked: surgeries of this mission, days of it."""
    live = {s.id for s in surgeries}
    for i, surgery_id in enumerate(cmd.pinned_surgery_ids):
        if surgery_id not in live:
            raise Invalid(f"surgery {surgery_id} is not a live surgery of mission {mission.id}",
                          field=f"pinned_surgery_ids.{i}")
    locked = set()
    for i, day in enumerate(cmd.locked_days):
        if not mission.starts_on <= day <= mission.ends_on:
            raise Invalid(f"{day} is not a day of the mission ({mission.starts_on} to {mission.ends_on})",
                          field=f"locked_days.{i}")
        locked.add((day - mission.starts_on).days)
    return frozenset(cmd.pinned_surgery_ids), frozenset(locked)


async def _cases(uow: SchedulingUnitOfWork, mission: Mission,
                 case_ids: tuple[uuid.UUID, ...] | None) -> list[PatientCase]:
    if case_ids is None:  # every site's waiting list
        return [c for site in mission.site_ids for c in await uow.cases.waiting_list(site, status=CaseStatus.waiting)]
    cases = []
    for i, case_id in enumerate(dict.fromkeys(case_ids)):
        case = await uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"no patient case {case_id}")
        if mission.site(case.host_institution_id) is None:
            raise Invalid(f"case {case.patient_ref} is on the waiting list of institution "
                          f"{case.host_institution_id}, not of a host site of the mission", field=f"case_ids.{i}")
        if case.status is not CaseStatus.waiting:
            raise Invalid(f"case {case.patient_ref} is {case.status.value}, not waiting", field=f"case_ids.{i}")
        cases.append(case)
    return cases


@dataclass(frozen=True)
class _Clock:
    """The mission's days on the host's wall clock."""

    mission: Mission
    tz: ZoneInfo

    def at(self, instant: datetime) -> tuple[int, int]:
        local = instant.astimezone(self.tz)
        return (local.date() - self.mission.starts_on).days, local.hour * 60 + local.minute

    def instant(self, day: int, minute: int) -> datetime:
        local_day = self.mission.starts_on + timedelta(days=day)
        local = datetime.combine(local_day, time(minute // 60, minute % 60), self.tz)
        return local.astimezone(UTC)

    def earliest(self, now: datetime, days: int) -> tuple[int, int]:
        day, minute = self.at(now)
        if day < 0:
            return 0, 0
        if day >= days:
            return days, 0
        return day, minute
