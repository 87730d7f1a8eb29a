"""Surgery commands: schedule, reschedule, cancel, start, complete; reading them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduling.domain.cases import PatientCase
from scheduling.domain.missions import Mission
from scheduling.domain.resources import HostResources, OperatingRoom
from scheduling.domain.commands import (
    CancelSurgery,
    ChangeLeadSurgeon,
    CompleteSurgery,
    FollowUpSurgery,
    GetSurgery,
    MissionSurgeries,
    RescheduleSurgery,
    ScheduleSurgery,
    SetLocalRoles,
    StartSurgery,
)
from scheduling.domain.values import SurgeryStatus
from scheduling.domain.surgeries import MAX_ICU_DAYS, Surgery, check_intensive_care, icu_days, turnover_window
from scheduling.handlers.common import host_lock, host_zone, mission_for_update, site_of, zone_of
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock
from jumelage.errors import Forbidden, NotFound
from jumelage.versions import IfMatch, check_if_match


async def schedule_surgery(cmd: ScheduleSurgery, uow: SchedulingUnitOfWork, *, clock: Clock) -> Surgery:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id)
        peek = await uow.cases.get(cmd.case_id)
        if peek is None:
            raise NotFound(f"no patient case {cmd.case_id}")
        site = peek.host_institution_id  # the case's institution: where it is operated
        require_booking_site(cmd.at_sites, site, "surgeries")
        # Rooms and beds are the site's: one booking at a time per site.
        await uow.lock(host_lock(site))
        case = await _case(uow, cmd.case_id)
        room = await _room(uow, cmd.operating_room_id)
        minutes = cmd.expected_duration_minutes or case.expected_duration_minutes
        pad = turnover_window(room, mission)  # the room's neighbours within its turnover
        others = await uow.surgeries.colliding(room_id=room.id, surgeon_id=cmd.lead_surgeon_id,
                                               anaesthetist_id=cmd.anaesthetist_id, start=cmd.scheduled_start - pad,
                                               end=cmd.scheduled_start + timedelta(minutes=max(minutes, 0)) + pad)
        others = await with_mission_days(uow, mission, others)
        resources = await uow.hosts.get(site)
        tz = zone_of(resources)
        surgery = Surgery.schedule(cmd, mission=mission, case=case, room=room, tz=tz, others=others)
        await require_intensive_care(uow, resources, tz, [(surgery, case)])
        now = clock.now()
        await uow.cases.save(case, now)
        await uow.surgeries.save(surgery, now)
        uow.record_from(surgery)
        await uow.commit()
    return surgery


async def reschedule_surgery(cmd: RescheduleSurgery, uow: SchedulingUnitOfWork, *, clock: Clock) -> Surgery:
    async with uow:
        mission, surgery = await _locked(uow, cmd.surgery_id, lock_host=True, expected=cmd.expected)
        room = await _room(uow, cmd.operating_room_id or surgery.operating_room_id)
        pad = turnover_window(room, mission)  # the room's neighbours within its turnover
        others = await uow.surgeries.colliding(
            room_id=room.id, surgeon_id=surgery.lead_surgeon_id, anaesthetist_id=surgery.anaesthetist_id,
            start=cmd.scheduled_start - pad,
            end=cmd.scheduled_start + timedelta(minutes=surgery.expected_duration_minutes) + pad)
        others = await with_mission_days(uow, mission, others)
        resources = await uow.hosts.get(site_of(surgery, mission))
        tz = zone_of(resources)
        surgery.reschedule(cmd, mission=mission, room=room, tz=tz, others=others)
        await require_intensive_care(uow, resources, tz, [(surgery, None)])
        await uow.surgeries.save(surgery, clock.now())
        uow.record_from(surgery)
        await uow.commit()
    return surgery


async def change_lead_surgeon(cmd: ChangeLeadSurgeon, uow: SchedulingUnitOfWork, *, clock: Clock) -> Surgery:
    async with uow:
        mission, surgery = await _locked(uow, cmd.surgery_id, lock_host=True, expected=cmd.expected)
        room = await _room(uow, surgery.operating_room_id)
        others = await uow.surgeries.colliding(room_id=room.id, surgeon_id=cmd.lead_surgeon_id,
                                               anaesthetist_id=surgery.anaesthetist_id,
                                               start=surgery.scheduled_start, end=surgery.scheduled_end)
        others = await with_mission_days(uow, mission, others)
        tz = await host_zone(uow, site_of(surgery, mission))
        surgery.change_lead(cmd.lead_surgeon_id, cmd.reason, mission=mission, room=room, tz=tz, others=others)
        await uow.surgeries.save(surgery, clock.now())
        uow.record_from(surgery)
        await uow.commit()
    return surgery


async def cancel_surgery(cmd: CancelSurgery, uow: SchedulingUnitOfWork, *, clock: Clock) -> Surgery:
    async with uow:
        mission, surgery = await _locked(uow, cmd.surgery_id, expected=cmd.expected)
        case = await _case(uow, surgery.case_id)
        surgery.cancel(cmd.reason, case)
        now = clock.now()
        await uow.surgeries.save(surgery, now)
        await uow.cases.save(case, now)
        uow.record_from(surgery)
        await uow.commit()
    return surgery


async def start_surgery(cmd: StartSurgery, uow: SchedulingUnitOfWork, *, clock: Clock) -> Surgery:
    # No event: the contract has none, and nobody outside needs the moment the incision is made.
    now = clock.now()
    async with uow:
        mission, surgery = await _locked(uow, cmd.surgery_id, expected=cmd.expected)
        surgery.start(mission, cmd.started_at or now, now)
        await uow.surgeries.save(surgery, clock.now())
        await uow.commit()
    return surgery


async def complete_surgery(cmd: CompleteSurgery, uow: SchedulingUnitOfWork, *, clock: Clock) -> Surgery:
    now = clock.now()
    async with uow:
        mission, surgery = await _locked(uow, cmd.surgery_id, expected=cmd.expected)
        case = await _case(uow, surgery.case_id)
        surgery.complete(cmd, mission=mission, case=case, now=now)
        saved_at = clock.now()
        await uow.surgeries.save(surgery, saved_at)
        await uow.cases.save(case, saved_at)
        uow.record_from(surgery)
        await uow.commit()
    return surgery


async def set_local_roles(cmd: SetLocalRoles, uow: SchedulingUnitOfWork, *, clock: Clock) -> Surgery:
    # No event: the roles go out with SurgeryCompleted, once they are what happened.
    async with uow:
        mission, surgery = await _locked(uow, cmd.surgery_id, expected=cmd.expected)
        surgery.set_local_roles(cmd.local_roles, mission)
        await uow.surgeries.save(surgery, clock.now())
        await uow.commit()
    return surgery


async def follow_up_surgery(cmd: FollowUpSurgery, uow: SchedulingUnitOfWork, *, clock: Clock) -> Surgery:
    async with uow:
        mission, surgery = await _locked(uow, cmd.surgery_id, expected=cmd.expected)
        tz = await host_zone(uow, mission.host_institution_id)
        surgery.follow_up(cmd.outcome, mission=mission, today=clock.now().astimezone(tz).date(), tz=tz)
        await uow.surgeries.save(surgery, clock.now())
        uow.record_from(surgery)
        await uow.commit()
    return surgery


async def _locked(uow: SchedulingUnitOfWork, surgery_id: uuid.UUID, *, lock_host: bool = False,
                  expected: IfMatch | None = None) -> tuple[Mission, Surgery]:
    """The surgery's mission, then (optionally) its host, then the surgery: the common lock order.
    PreconditionFailed if ``expected`` (the caller's If-Match) is stale for the surgery as locked."""
    peek = await uow.surgeries.get(surgery_id)
    if peek is None:
        raise NotFound(f"no surgery {surgery_id}")
    mission = await mission_for_update(uow, peek.mission_id)
    if lock_host:
        await uow.lock(host_lock(site_of(peek, mission)))
    surgery = await uow.surgeries.get(surgery_id, for_update=True)
    assert surgery is not None  # surgeries are never deleted
    check_if_match(expected, f"surgery {surgery.id}", surgery)
    return mission, surgery


async def with_mission_days(uow: SchedulingUnitOfWork, mission: Mission, others: Sequence[Surgery]) -> list[Surgery]:
    """The surgeries that may collide in time, and every live surgery of the mission: those
    decide whether a practitioner is already at another host site that day."""
    if len(mission.sites) < 2:
        return list(others)
    seen = {s.id for s in others}
    return [*others, *(s for s in await uow.surgeries.of_mission(mission.id)
                       if s.id not in seen and s.status is not SurgeryStatus.cancelled)]


def require_booking_site(at_sites: frozenset[uuid.UUID] | None, site: uuid.UUID, what: str) -> None:
    """The caller may book at ``site`` (``at_sites``: where the access rules let them; None: anywhere)."""
    if at_sites is not None and site not in at_sites:
        raise Forbidden(f"the caller may not schedule {what} at institution {site}: the case is on that site's "
                        "waiting list, and only its own coordinators and clinicians (or the mission's) book there")


async def require_intensive_care(uow: SchedulingUnitOfWork, resources: HostResources | None, tz: ZoneInfo,
                                 changed: Sequence[tuple[Surgery, PatientCase | None]]) -> None:
    """A free intensive-care bed at the host for the stay each case's risk calls for
    (``domain.surgeries.ICU_DAYS``), as the optimiser requires of its plans. ``changed``: the
    surgeries being booked or moved (one by hand, several when a plan is applied),
    each checked where it will be against the others at the host, those changed
    included. Runs under the host's lock, so two bookings cannot take the last bed
    together. A ``None`` case is read (locked) here, and only if the host has said
    how many beds it has."""
    if not (resources and resources.icu_beds):
        return
    moved: dict[uuid.UUID, tuple[str, date, int]] = {}
    for surgery, case in changed:
        case = case or await _case(uow, surgery.case_id)
        moved[surgery.id] = (surgery.label, surgery.days(tz)[0], icu_days(case.risk_scheme.value, case.risk_category))
    staying = {key: stay for key, stay in moved.items() if stay[2]}
    if not staying:
        return
    window_start = datetime.combine(min(day for _, day, _ in staying.values()) - timedelta(days=MAX_ICU_DAYS),
                                    time.min, tz)
    window_end = datetime.combine(max(day + timedelta(days=days) for _, day, days in staying.values()), time.min, tz)
    stays = {other.id: (other.label, other.days(tz)[0], icu_days(scheme, category))
             for other, scheme, category in await uow.surgeries.at_host(
                 resources.institution_id, since=window_start, until=window_end)}
    stays.update(moved)  # where the changed ones will be, not where they were
    for key, (_, day, days) in staying.items():
        check_intensive_care(day, days, resources.icu_beds, [stay for k, stay in stays.items() if k != key])


async def _case(uow: SchedulingUnitOfWork, case_id: uuid.UUID) -> PatientCase:
    case = await uow.cases.get(case_id, for_update=True)
    if case is None:
        raise NotFound(f"no patient case {case_id}")
    return case


async def _room(uow: SchedulingUnitOfWork, room_id: uuid.UUID) -> OperatingRoom:
    room = await uow.rooms.get(room_id)
    if room is None:
        raise NotFound(f"no operating room {room_id}")
    return room


# -- reads ---------------------------------------------------------------------------------------


async def mission_surgeries(query: MissionSurgeries, uow: SchedulingUnitOfWork) -> list[Surgery]:
    async with uow:
        return await uow.surgeries.listed(query.mission_id, status=query.status)


async def get_surgery(query: GetSurgery, uow: SchedulingUnitOfWork) -> Surgery:
    async with uow:
        surgery = await uow.surgeries.get(query.surgery_id)
    if surgery is None:
        raise NotFound(f"no surgery {query.surgery_id}")
    return surgery
