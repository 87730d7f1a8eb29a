"""Mission commands: schedule, reschedule, cancel, start, complete, change the team; the search."""

from __future__ import annotations

from scheduling.domain.activities import ActivityStatus
from scheduling.domain.commands import (
    AddTeamMember,
    CancelMission,
    ChangeOnSiteDates,
    CompleteMission,
    RemoveMissionSite,
    RemoveTeamMember,
    RescheduleMission,
    ScheduleMission,
    SearchMissions,
    SetMissionSite,
    StartMission,
)
from scheduling.domain.missions import Booked, Mission, Totals
from scheduling.domain.surgeries import SurgeryStatus
from scheduling.handlers.common import (
    convention_for_update,
    drop_unheld,
    mission_and_convention,
    mission_for_update,
    planned,
    practitioner_lock,
    site_of,
    site_zones,
)
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock


async def schedule_mission(cmd: ScheduleMission, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        convention = await convention_for_update(uow, cmd.convention_id)
        await uow.lock(*(practitioner_lock(m.practitioner_id) for m in cmd.team))
        others = await uow.missions.sharing_practitioners([m.practitioner_id for m in cmd.team],
                                                          cmd.starts_on, cmd.ends_on)
        mission = Mission.schedule(cmd, convention, others)
        await uow.missions.add(mission, clock.now())
        uow.record_from(mission)
        await uow.commit()
    return mission


async def reschedule_mission(cmd: RescheduleMission, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission, convention = await mission_and_convention(uow, cmd.mission_id, cmd.expected)
        ids = [m.practitioner_id for m in mission.team]
        await uow.lock(*(practitioner_lock(i) for i in ids))
        others = await uow.missions.sharing_practitioners(ids, cmd.starts_on, cmd.ends_on, excluding=mission.id)
        booked = await planned(uow, mission)
        mission.reschedule(cmd.starts_on, cmd.ends_on, cmd.reason, convention, others, booked)
        await uow.missions.save(mission, clock.now())
        uow.record_from(mission)
        await uow.commit()
    return mission


async def cancel_mission(cmd: CancelMission, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id, cmd.expected)
        reason = mission.cancel(cmd.reason)
        await uow.missions.save(mission, clock.now())
        uow.record_from(mission)
        await drop_unheld(uow, mission, clock.now(), reason)
        await uow.commit()
    return mission


async def start_mission(cmd: StartMission, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id, cmd.expected)
        mission.start()
        await uow.missions.save(mission, clock.now())
        uow.record_from(mission)
        await uow.commit()
    return mission


async def complete_mission(cmd: CompleteMission, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id, cmd.expected)
        in_progress = await uow.surgeries.of_mission(mission.id, status=SurgeryStatus.started)
        totals = Totals(
            surgeries=await uow.surgeries.count(mission.id, SurgeryStatus.completed),
            consultations=len(await uow.consultations.of_mission(mission.id, status=ActivityStatus.held)),
            training_sessions=len(await uow.training_sessions.of_mission(mission.id, status=ActivityStatus.held)),
        )
        mission.complete(totals, in_progress=[s.label for s in in_progress])
        await uow.missions.save(mission, clock.now())
        await drop_unheld(uow, mission, clock.now(), f"mission {mission.id} completed before it took place")
        uow.record_from(mission)
        await uow.commit()
    return mission


async def add_team_member(cmd: AddTeamMember, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id, cmd.expected)
        await uow.lock(practitioner_lock(cmd.member.practitioner_id))
        others = await uow.missions.sharing_practitioners([cmd.member.practitioner_id], mission.starts_on,
                                                          mission.ends_on, excluding=mission.id)
        mission.add_member(cmd.member, others)
        await uow.missions.save(mission, clock.now())
        uow.record_from(mission)
        await uow.commit()
    return mission


async def remove_team_member(cmd: RemoveTeamMember, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id, cmd.expected)
        leads = [s.id for s in await uow.surgeries.of_mission(mission.id, status=SurgeryStatus.scheduled)
                 if cmd.practitioner_id in (s.lead_surgeon_id, s.anaesthetist_id)]
        mission.remove_member(cmd.practitioner_id, leads)
        await uow.missions.save(mission, clock.now())
        uow.record_from(mission)
        await uow.commit()
    return mission


async def change_on_site_dates(cmd: ChangeOnSiteDates, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id, cmd.expected)
        zones = await site_zones(uow, mission)
        booked = [Booked(s.label, *s.days(zones[site_of(s, mission)]), people=s.people)
                  for s in await uow.surgeries.of_mission(mission.id, status=SurgeryStatus.scheduled)
                  if cmd.practitioner_id in s.people]
        mission.change_on_site(cmd.practitioner_id, cmd.arrives_on, cmd.leaves_on, booked)
        await uow.missions.save(mission, clock.now())
        uow.record_from(mission)
        await uow.commit()
    return mission


async def set_mission_site(cmd: SetMissionSite, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission, convention = await mission_and_convention(uow, cmd.mission_id, cmd.expected)
        mission.set_site(cmd.site, convention, await planned(uow, mission))
        await uow.missions.save(mission, clock.now())
        uow.record_from(mission)
        await uow.commit()
    return mission


async def remove_mission_site(cmd: RemoveMissionSite, uow: SchedulingUnitOfWork, *, clock: Clock) -> Mission:
    async with uow:
        mission = await mission_for_update(uow, cmd.mission_id, cmd.expected)
        mission.remove_site(cmd.institution_id, await planned(uow, mission))
        await uow.missions.save(mission, clock.now())
        uow.record_from(mission)
        await uow.commit()
    return mission


# -- reads ---------------------------------------------------------------------------------------


async def search_missions(query: SearchMissions, uow: SchedulingUnitOfWork) -> tuple[list[Mission], str | None]:
    """A page of the missions that match and the cursor of the next (None: the last)."""
    async with uow:
        return await uow.missions.search(convention_id=query.convention_id,
                                         host_institution_id=query.host_institution_id, status=query.status,
                                         limit=query.limit, cursor=query.cursor)
