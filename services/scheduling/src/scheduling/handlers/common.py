"""What several handlers share: loading with the right locks, in one order.

Lock order, everywhere: convention row, mission row, named locks (practitioners,
host), then case / surgery / activity rows. Keeping one order means two
transactions can wait for each other but never deadlock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from scheduling.domain.activities import ActivityStatus
from scheduling.domain.conventions import ConventionReplica
from scheduling.domain.missions import Booked, Mission
from scheduling.domain.resources import DEFAULT_TIMEZONE, HostResources, local_days
from scheduling.domain.surgeries import SurgeryStatus
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.errors import NotFound
from jumelage.versions import IfMatch, check_if_match


def practitioner_lock(practitioner_id: uuid.UUID) -> str:
    return f"scheduling:practitioner:{practitioner_id}"


def host_lock(institution_id: uuid.UUID) -> str:
    return f"scheduling:host:{institution_id}"


async def convention_for_update(uow: SchedulingUnitOfWork, convention_id: uuid.UUID) -> ConventionReplica:
    convention = await uow.conventions.get(convention_id, for_update=True)
    if convention is None:
        raise NotFound(f"no convention {convention_id} known here (none of its events has arrived)")
    return convention


async def mission_for_update(uow: SchedulingUnitOfWork, mission_id: uuid.UUID,
                             expected: IfMatch | None = None) -> Mission:
    """The mission, locked; PreconditionFailed if ``expected`` (the caller's If-Match on a change
    of the mission) is stale: checked on the locked row, so nothing comes between it and the write."""
    mission = await uow.missions.get(mission_id, for_update=True)
    if mission is None:
        raise NotFound(f"no mission {mission_id}")
    check_if_match(expected, f"mission {mission.id}", mission)
    return mission


async def mission_and_convention(uow: SchedulingUnitOfWork, mission_id: uuid.UUID,
                                 expected: IfMatch | None = None) -> tuple[Mission, ConventionReplica]:
    """Both locked, convention first (the order the convention's events use)."""
    peek = await uow.missions.get(mission_id)
    if peek is None:
        raise NotFound(f"no mission {mission_id}")
    convention = await convention_for_update(uow, peek.convention_id)
    return await mission_for_update(uow, mission_id, expected), convention


async def host_zone(uow: SchedulingUnitOfWork, institution_id: uuid.UUID) -> ZoneInfo:
    return zone_of(await uow.hosts.get(institution_id))


def zone_of(resources: HostResources | None) -> ZoneInfo:
    """The host's time zone, or the default where it has recorded no resources."""
    return resources.zone if resources else ZoneInfo(DEFAULT_TIMEZONE)


async def require_institution(uow: SchedulingUnitOfWork, institution_id: uuid.UUID) -> None:
    if await uow.institutions.get(institution_id) is None:
        raise NotFound(f"no institution {institution_id} known here")


async def site_zones(uow: SchedulingUnitOfWork, mission: Mission) -> dict[uuid.UUID, ZoneInfo]:
    """Each host site's time zone (its calendar is the one its days are counted in)."""
    return {site: await host_zone(uow, site) for site in mission.site_ids}


def site_of(record: object, mission: Mission) -> uuid.UUID:
    """Where a surgery or a consultation takes place (rows from before 0014 are backfilled: the host)."""
    return getattr(record, "site_institution_id", None) or mission.host_institution_id


async def planned(uow: SchedulingUnitOfWork, mission: Mission) -> list[Booked]:
    """What is booked in the mission, as days of its site's calendar, each with its site."""
    zones = await site_zones(uow, mission)
    host = zones.get(mission.host_institution_id) or await host_zone(uow, mission.host_institution_id)
    booked = []
    for s in await uow.surgeries.of_mission(mission.id, status=SurgeryStatus.scheduled):
        site = site_of(s, mission)
        booked.append(Booked(s.label, *s.days(zones.get(site, host)), people=s.people, site=site))
    for c in await uow.consultations.of_mission(mission.id, status=ActivityStatus.scheduled):
        site = site_of(c, mission)
        booked.append(Booked(f"consultation {c.id}", *local_days(c.scheduled_at, c.scheduled_at,
                                                                 zones.get(site, host)), site=site))
    for t in await uow.training_sessions.of_mission(mission.id, status=ActivityStatus.scheduled):
        site = site_of(t, mission)
        booked.append(Booked(f"training session {t.id}", *local_days(t.scheduled_at, t.scheduled_at,
                                                                     zones.get(site, host)), site=site))
    return booked


async def hold_planned(uow: SchedulingUnitOfWork, mission: Mission, now: datetime) -> None:
    """The mission went on hold: what is planned in it waits with it, in its slot, each
    with its event (the families and the lead surgeons are told; no reminder meanwhile)."""
    await _each_planned(uow, mission, now, "put_on_hold")


async def release_planned(uow: SchedulingUnitOfWork, mission: Mission, now: datetime) -> None:
    """The mission is scheduled again: so is what waited with it, at the time it kept."""
    await _each_planned(uow, mission, now, "release")


async def _each_planned(uow: SchedulingUnitOfWork, mission: Mission, now: datetime, change: str) -> None:
    """``change`` (``put_on_hold`` or ``release``) on each scheduled surgery and consultation of
    the mission, locked; saved with its event where it changed."""
    for surgery in await uow.surgeries.of_mission(mission.id, status=SurgeryStatus.scheduled):
        surgery = await uow.surgeries.get(surgery.id, for_update=True) or surgery
        if getattr(surgery, change)(mission):
            await uow.surgeries.save(surgery, now)
            uow.record_from(surgery)
    for consultation in await uow.consultations.of_mission(mission.id, status=ActivityStatus.scheduled):
        consultation = await uow.consultations.get(consultation.id, for_update=True) or consultation
        if getattr(consultation, change)(mission):
            await uow.consultations.save(consultation)
            uow.record_from(consultation)


async def drop_unheld(uow: SchedulingUnitOfWork, mission: Mission, now: datetime, reason: str) -> None:
    """The mission ends (cancelled or completed): what is only scheduled will not
    happen. Surgeries are cancelled with their event and their cases go back to
    the waiting list; consultations and training sessions are marked cancelled."""
    for surgery in await uow.surgeries.of_mission(mission.id, status=SurgeryStatus.scheduled):
        surgery = await uow.surgeries.get(surgery.id, for_update=True) or surgery
        case = await uow.cases.get(surgery.case_id, for_update=True)
        assert case is not None  # a foreign key
        surgery.cancel(reason, case)
        await uow.surgeries.save(surgery, now)
        await uow.cases.save(case, now)
        uow.record_from(surgery)
    for consultation in await uow.consultations.of_mission(mission.id, status=ActivityStatus.scheduled):
        if consultation.call_off():
            await uow.consultations.save(consultation)
    for training in await uow.training_sessions.of_mission(mission.id, status=ActivityStatus.scheduled):
        if training.call_off():
            await uow.training_sessions.save(training)
