"""Missions and their teams."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.common import Body, ReasonIn
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
from scheduling.domain.missions import Mission, MissionStatus, TeamMember
from scheduling.domain.values import MAX_SITES, MissionSite
from jumelage.api import NEXT_LINK_HEADER, Cursor, Limit, link_next
from jumelage.auth import CallerDep, Role, require
from jumelage.events.scheduling import PractitionerRole
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import BusDep

router = APIRouter(prefix="/missions", tags=["missions"])


SURGEON = {"practitioner_id": "2b7e1f3a-9c4d-4e8b-a1f2-3c4d5e6f7a8b", "full_name": "Dr Alessandro Frigiola",
           "role": "surgeon"}
MAX_TEAM = 100


class MemberIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [SURGEON]})

    practitioner_id: uuid.UUID
    full_name: str = Field(min_length=1, max_length=300)
    role: PractitionerRole
    home_institution_id: uuid.UUID | None = Field(default=None,
                                                  description="where they work; default: the visiting institution")
    arrives_on: date | None = Field(default=None, description="first day on site; default: the mission's first")
    leaves_on: date | None = Field(default=None, description="last day on site; default: the mission's last")

    def member(self) -> TeamMember:
        return TeamMember(self.practitioner_id, self.full_name, self.role, self.home_institution_id,
                          self.arrives_on, self.leaves_on)


class OnSiteIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"arrives_on": "2030-06-11", "leaves_on": "2030-06-13"}]})

    arrives_on: date | None = Field(default=None, description="first day on site; none: the mission's first")
    leaves_on: date | None = Field(default=None, description="last day on site; none: the mission's last")


class SiteIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"institution_id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6", "starts_on": "2030-06-10", "ends_on": "2030-06-12"}]})

    institution_id: uuid.UUID = Field(description="a beneficiary party of the convention")
    starts_on: date | None = Field(default=None, description="the mission's first day there; default: its first")
    ends_on: date | None = Field(default=None, description="the mission's last day there; default: its last")

    def site(self) -> MissionSite:
        return MissionSite(self.institution_id, self.starts_on, self.ends_on)


class SiteDaysIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"starts_on": "2030-06-13", "ends_on": "2030-06-14"}]})

    starts_on: date | None = Field(default=None, description="the mission's first day there; none: its first")
    ends_on: date | None = Field(default=None, description="the mission's last day there; none: its last")


class MissionIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "convention_id": "0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f",
        "host_institution_id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
        "visiting_institution_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "specialty": "paediatric cardiac surgery",
        "starts_on": "2030-06-10", "ends_on": "2030-06-14",
        "team": [SURGEON, {"practitioner_id": "5c6d7e8f-0a1b-4c2d-9e3f-4a5b6c7d8e9f", "full_name": "Dr Sara Conti",
                           "role": "anaesthetist"}]}]})

    convention_id: uuid.UUID
    host_institution_id: uuid.UUID
    visiting_institution_id: uuid.UUID
    specialty: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date
    team: list[MemberIn] = Field(min_length=1, max_length=MAX_TEAM)
    sites: list[SiteIn] | None = Field(
        default=None, max_length=MAX_SITES,
        description="the host sites (the host among them), with the mission's days at each; default: the host "
                    "alone, every day")


class RescheduleIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"starts_on": "2030-06-17", "ends_on": "2030-06-21", "reason": "the host's operating block is closed"}]})

    starts_on: date
    ends_on: date
    reason: str = Field(min_length=1, max_length=2000)


class TotalsOut(BaseModel):
    surgeries: int
    consultations: int
    training_sessions: int


class MemberOut(BaseModel):
    practitioner_id: uuid.UUID
    full_name: str
    role: PractitionerRole
    home_institution_id: uuid.UUID = Field(description="where they work (the visiting institution unless said)")
    arrives_on: date = Field(description="first day on site")
    leaves_on: date = Field(description="last day on site")
    whole_mission: bool = Field(description="on site from the mission's first day to its last")


class SiteOut(BaseModel):
    institution_id: uuid.UUID
    starts_on: date = Field(description="the mission's first day at this site")
    ends_on: date = Field(description="the mission's last day at this site")
    whole_mission: bool = Field(description="there from the mission's first day to its last")
    host: bool = Field(description="the mission's host (the first site)")


class MissionOut(BaseModel):
    id: uuid.UUID
    convention_id: uuid.UUID
    host_institution_id: uuid.UUID
    visiting_institution_id: uuid.UUID
    specialty: str
    starts_on: date
    ends_on: date
    team: list[MemberOut]
    sites: list[SiteOut] = Field(description="the host sites, the host first, with the mission's days at each")
    status: MissionStatus
    status_reason: str | None
    totals: TotalsOut | None
    created_at: datetime
    version: int = Field(description="raised by every change; the `ETag` header is this, quoted")
    updated_at: datetime = Field(description="when it last changed")

    @classmethod
    def of(cls, m: Mission) -> MissionOut:
        team = []
        for member in m.team:
            first, last = m.on_site_days(member)
            team.append(MemberOut(practitioner_id=member.practitioner_id, full_name=member.full_name,
                                  role=member.role, home_institution_id=m.home_of(member), arrives_on=first,
                                  leaves_on=last, whole_mission=(first, last) == (m.starts_on, m.ends_on)))
        return cls.model_validate({**{k: getattr(m, k) for k in cls.model_fields
                                      if k not in ("team", "totals", "sites")},
                                   "team": team, "sites": sites_of(m), "totals": m.totals and TotalsOut.model_validate(
                                       m.totals, from_attributes=True)})


def sites_of(m: Mission) -> list[SiteOut]:
    out = []
    for site in m.sites:
        first, last = m.site_days(site)
        out.append(SiteOut(institution_id=site.institution_id, starts_on=first, ends_on=last,
                           whole_mission=(first, last) == (m.starts_on, m.ends_on),
                           host=site.institution_id == m.host_institution_id))
    return out


@router.post("", status_code=201, response_model=MissionOut, summary="Schedule a mission under a convention",
             dependencies=[require(Role.coordinator, to="schedule a mission")], responses=read_responses(201))
async def schedule_mission(body: MissionIn, uow: UoW, bus: BusDep, caller: CallerDep,
                           response: Response) -> MissionOut:
    access.scheduling_mission(caller, body.host_institution_id, body.visiting_institution_id)
    cmd = ScheduleMission(
        convention_id=body.convention_id, host_institution_id=body.host_institution_id,
        visiting_institution_id=body.visiting_institution_id, specialty=body.specialty,
        starts_on=body.starts_on, ends_on=body.ends_on, team=tuple(m.member() for m in body.team),
        sites=tuple(s.site() for s in body.sites or ()),
    )
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


@router.get("", response_model=list[MissionOut], summary="Missions, by convention, host or status, a page at a time",
            responses={200: {"description": "a page of the list (keyset paging: the next page's URL in the "
                                            "`Link` header)", "headers": NEXT_LINK_HEADER}})
async def list_missions(request: Request, response: Response, uow: UoW, caller: CallerDep, bus: BusDep,
                        convention_id: uuid.UUID | None = None, host_institution_id: uuid.UUID | None = None,
                        status: MissionStatus | None = None, limit: Limit = 50,
                        cursor: Cursor = None) -> list[MissionOut]:
    """Up to `limit` missions, by first day, then creation, then id; the `Link` header names
    the next page (`rel="next"`) where more follow. Only the caller's own are answered (their
    institution hosts or sends it, or they are on its team): a page may hold fewer than
    `limit` of them, and the next may still hold more."""
    access.mission_scope(caller, host_institution_id)
    query = SearchMissions(convention_id=convention_id, host_institution_id=host_institution_id, status=status,
                           limit=limit, cursor=cursor)
    missions, after = await bus.handle(query, uow)
    link_next(request, response, after)
    # The caller's own: their institution hosts or sends it, or they are on its team.
    return [MissionOut.of(m) for m in missions if access.visible(caller, m)]


@router.get("/{mission_id}", response_model=MissionOut, responses=read_responses())
async def get_mission(mission_id: uuid.UUID, response: Response,
                      mission: Annotated[Mission, access.mission(access.READ)]) -> MissionOut:
    # The access check has loaded the mission the caller reads (else 404): no second load.
    return tagged(response, MissionOut.of(mission))


# Every change below takes an optional If-Match (the ETag of the caller's read): stale, it is a 412.


@router.post("/{mission_id}/reschedule", response_model=MissionOut, summary="Move a scheduled mission",
             dependencies=[access.mission(access.MANAGE)], responses=change_responses())
async def reschedule_mission(mission_id: uuid.UUID, body: RescheduleIn, uow: UoW, bus: BusDep, expected: IfMatchDep,
                             response: Response) -> MissionOut:
    cmd = RescheduleMission(mission_id, body.starts_on, body.ends_on, body.reason, expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


@router.post("/{mission_id}/cancel", response_model=MissionOut, summary="Cancel a mission not yet started",
             dependencies=[access.mission(access.MANAGE)], responses=change_responses())
async def cancel_mission(mission_id: uuid.UUID, body: ReasonIn, uow: UoW, bus: BusDep, expected: IfMatchDep,
                         response: Response) -> MissionOut:
    cmd = CancelMission(mission_id, body.reason, expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


@router.post("/{mission_id}/start", response_model=MissionOut, summary="The team is on site",
             dependencies=[access.mission(access.MANAGE)], responses=change_responses())
async def start_mission(mission_id: uuid.UUID, uow: UoW, bus: BusDep, expected: IfMatchDep, response: Response) -> MissionOut:
    cmd = StartMission(mission_id, expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


@router.post("/{mission_id}/complete", response_model=MissionOut,
             summary="End the mission; its totals are what was actually held",
             dependencies=[access.mission(access.MANAGE)], responses=change_responses())
async def complete_mission(mission_id: uuid.UUID, uow: UoW, bus: BusDep, expected: IfMatchDep,
                           response: Response) -> MissionOut:
    cmd = CompleteMission(mission_id, expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


@router.post("/{mission_id}/team", status_code=201, response_model=MissionOut,
             summary="Add a practitioner to the team (before the mission starts)",
             dependencies=[access.mission(access.MANAGE)], responses=change_responses(201))
async def add_team_member(mission_id: uuid.UUID, body: MemberIn, uow: UoW, bus: BusDep, expected: IfMatchDep,
                          response: Response) -> MissionOut:
    cmd = AddTeamMember(mission_id, body.member(), expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


@router.delete("/{mission_id}/team/{practitioner_id}", response_model=MissionOut,
               summary="Remove a practitioner from the team (before the mission starts)",
               dependencies=[access.mission(access.MANAGE)], responses=change_responses())
async def remove_team_member(mission_id: uuid.UUID, practitioner_id: uuid.UUID, uow: UoW, bus: BusDep, expected: IfMatchDep,
                             response: Response) -> MissionOut:
    cmd = RemoveTeamMember(mission_id, practitioner_id, expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


@router.put("/{mission_id}/team/{practitioner_id}/on-site", response_model=MissionOut,
            summary="Set the days a team member is on site (arriving later, leaving earlier); also once started",
            dependencies=[access.mission(access.MANAGE)], responses=change_responses())
async def change_on_site_dates(mission_id: uuid.UUID, practitioner_id: uuid.UUID, body: OnSiteIn, uow: UoW,
                               bus: BusDep, expected: IfMatchDep, response: Response) -> MissionOut:
    cmd = ChangeOnSiteDates(mission_id, practitioner_id, body.arrives_on, body.leaves_on, expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


# -- host sites ------------------------------------------------------------------------------------


@router.get("/{mission_id}/sites", response_model=list[SiteOut], responses=read_responses(),
            summary="The mission's host sites and its days at each")
async def list_sites(mission_id: uuid.UUID,
                     mission: Annotated[Mission, access.mission(access.READ)]) -> list[SiteOut]:
    return sites_of(mission)


@router.put("/{mission_id}/sites/{institution_id}", response_model=MissionOut,
            summary="Add a host site (a beneficiary of the convention), or change the mission's days there",
            dependencies=[access.mission(access.MANAGE)], responses=change_responses())
async def set_site(mission_id: uuid.UUID, institution_id: uuid.UUID, body: SiteDaysIn, uow: UoW, bus: BusDep,
                   expected: IfMatchDep, response: Response) -> MissionOut:
    cmd = SetMissionSite(mission_id, MissionSite(institution_id, body.starts_on, body.ends_on), expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))


@router.delete("/{mission_id}/sites/{institution_id}", response_model=MissionOut,
               summary="The mission no longer visits a site (never its host, nor one with something planned)",
               dependencies=[access.mission(access.MANAGE)], responses=change_responses())
async def remove_site(mission_id: uuid.UUID, institution_id: uuid.UUID, uow: UoW, bus: BusDep,
                      expected: IfMatchDep, response: Response) -> MissionOut:
    cmd = RemoveMissionSite(mission_id, institution_id, expected=expected)
    return tagged(response, MissionOut.of(await bus.handle(cmd, uow)))
