"""Surgeries: planned in a mission, in a room of the host, led by a surgeon of the team."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.common import Body, Instant, ReasonIn
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
from scheduling.domain.missions import Mission
from scheduling.domain.surgeries import Surgery, SurgeryStatus
from scheduling.domain.values import MAX_LOCAL_PARTS, LocalPart, RiskScheme
from jumelage.auth import CallerDep
from jumelage.events.scheduling import FollowUpOutcome, LeadSide, LocalRole, SurgeryOutcome
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import BusDep

router = APIRouter(tags=["surgeries"])


class SurgeryIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_id": "6d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d", "operating_room_id": "3f4e5d6c-7b8a-4d9e-8f0a-1b2c3d4e5f6a",
        "scheduled_start": "2030-06-10T08:00:00+01:00", "lead_surgeon_id": "2b7e1f3a-9c4d-4e8b-a1f2-3c4d5e6f7a8b",
        "anaesthetist_id": "5c6d7e8f-0a1b-4c2d-9e3f-4a5b6c7d8e9f", "expected_duration_minutes": 300}]})

    case_id: uuid.UUID = Field(description="a waiting case of a host site: the surgery takes place there")
    operating_room_id: uuid.UUID = Field(description="a room of the case's site")
    scheduled_start: Instant = Field(examples=["2030-06-10T08:00:00+01:00"],
                                     description="on one of the mission's days at the case's site")
    lead_surgeon_id: uuid.UUID
    anaesthetist_id: uuid.UUID | None = Field(default=None, description="a member of the team as anaesthetist")
    expected_duration_minutes: int | None = Field(default=None, gt=0, le=24 * 60,
                                                  description="default: the case's")
    procedure: str | None = Field(default=None, min_length=1, max_length=300,
                                  description="default: the case's planned procedure")


class SurgeryRescheduleIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"scheduled_start": "2030-06-11T08:00:00+01:00", "reason": "the patient has a fever"}]})

    scheduled_start: Instant
    operating_room_id: uuid.UUID | None = Field(default=None, description="default: the same room")
    reason: str = Field(min_length=1, max_length=2000)


class LeadSurgeonIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"lead_surgeon_id": "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "reason": "Dr Frigiola flies home early"}]})

    lead_surgeon_id: uuid.UUID = Field(description="a surgeon of the team, on site that day and free then")
    reason: str = Field(min_length=1, max_length=2000)


class SurgeryStartIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"started_at": "2030-06-10T08:10:00+01:00"}]})

    started_at: Instant | None = Field(default=None, description="default: now")


class LocalRoleIn(Body):
    practitioner_id: uuid.UUID = Field(description="a member of the mission's team whose home institution is the host")
    role: LocalRole = Field(description="observer, assistant, primary_under_supervision (the lead, supervised) "
                                        "or independent")

    def part(self) -> LocalPart:
        return LocalPart(self.practitioner_id, self.role)


LocalRoles = Field(max_length=MAX_LOCAL_PARTS, description="each practitioner of the host's part in the surgery")


class LocalRolesIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"local_roles": [
        {"practitioner_id": "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "role": "assistant"}]}]})

    local_roles: list[LocalRoleIn] = LocalRoles


class SurgeryCompleteIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"outcome": "successful", "duration_minutes": 290, "completed_at": "2030-06-10T13:00:00+01:00",
         "local_roles": [{"practitioner_id": "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                          "role": "primary_under_supervision"}]}]})

    outcome: SurgeryOutcome
    duration_minutes: int = Field(gt=0, le=48 * 60)
    completed_at: Instant | None = Field(default=None, description="default: now")
    local_roles: list[LocalRoleIn] | None = Field(
        default=None, max_length=MAX_LOCAL_PARTS,
        description="each practitioner of the host's part in it (absent: as set before, if at all)")


class FollowUpIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"outcome": "alive"}]})

    outcome: FollowUpOutcome = Field(description="how the patient is thirty days after the surgery")


class LocalRoleOut(BaseModel):
    practitioner_id: uuid.UUID
    role: LocalRole


class SurgeryOut(BaseModel):
    id: uuid.UUID
    mission_id: uuid.UUID
    case_id: uuid.UUID
    patient_ref: str
    procedure: str
    operating_room_id: uuid.UUID
    operating_room: str
    scheduled_start: datetime
    scheduled_end: datetime
    expected_duration_minutes: int
    lead_surgeon_id: uuid.UUID
    anaesthetist_id: uuid.UUID | None
    status: SurgeryStatus
    status_reason: str | None
    on_hold: bool = Field(description="scheduled, waiting with its mission (on hold): its slot is kept, "
                                      "no reminder goes out until the mission resumes")
    site_institution_id: uuid.UUID = Field(description="the host site it takes place at (its case's institution, "
                                                       "its room's)")
    started_at: datetime | None
    completed_at: datetime | None
    duration_minutes: int | None
    outcome: SurgeryOutcome | None
    lead_side: LeadSide | None = Field(description="who led it, from the lead surgeon's home institution "
                                                   "(local: the host's); set on completion")
    local_roles: list[LocalRoleOut] = Field(description="each practitioner of the host's part in it")
    follow_up_outcome: FollowUpOutcome | None = Field(description="how the patient was thirty days after")
    followed_up_on: date | None = Field(description="the day the follow-up was recorded (host's calendar)")
    follow_up_days: int | None = Field(description="days after the surgery it was recorded")
    priority: int = Field(description="the case's priority (1 most urgent), as it is now: a clinical fact that "
                                      "everyone who may read the surgery sees (never the patient's identity)")
    risk_scheme: RiskScheme = Field(description="the case's risk scheme, as it is now")
    risk_category: int | None = Field(description="the case's risk category in its scheme (none: non-cardiac)")
    version: int = Field(description="raised by every change; the `ETag` header is this, quoted")
    updated_at: datetime = Field(description="when it last changed")

    @classmethod
    def of(cls, s: Surgery) -> SurgeryOut:
        return cls.model_validate(s, from_attributes=True)


@router.post("/missions/{mission_id}/surgeries", status_code=201, response_model=SurgeryOut,
             summary="Schedule a waiting case's surgery in the mission",
             responses=read_responses(201))
async def schedule_surgery(mission_id: uuid.UUID, body: SurgeryIn, uow: UoW, bus: BusDep, caller: CallerDep,
                           response: Response,
                           mission: Annotated[Mission, access.mission(access.PLAN_ACTIVITIES)]) -> SurgeryOut:
    # A site's own coordinators and clinicians book at their site only (403 elsewhere).
    cmd = ScheduleSurgery(mission_id=mission_id, **body.model_dump(),
                          at_sites=access.sites_for(caller, mission, access.PLAN_ACTIVITIES))
    return tagged(response, SurgeryOut.of(await bus.handle(cmd, uow)))


@router.get("/missions/{mission_id}/surgeries", response_model=list[SurgeryOut])
async def list_surgeries(mission_id: uuid.UUID, uow: UoW, bus: BusDep, caller: CallerDep,
                         mission: Annotated[Mission, access.mission(access.READ)],
                         status: SurgeryStatus | None = None) -> list[SurgeryOut]:
    # The access check has found the mission (else 404); a site's own see their site's surgeries.
    sites = access.sites_for(caller, mission, access.READ)
    return [SurgeryOut.of(s) for s in await bus.handle(MissionSurgeries(mission_id, status=status), uow)
            if sites is None or s.site_institution_id in sites]


@router.get("/surgeries/{surgery_id}", response_model=SurgeryOut, dependencies=[access.surgery(access.READ)],
            responses=read_responses())
async def get_surgery(surgery_id: uuid.UUID, uow: UoW, bus: BusDep, response: Response) -> SurgeryOut:
    return tagged(response, SurgeryOut.of(await bus.handle(GetSurgery(surgery_id), uow)))


# Every change below takes an optional If-Match (the ETag of the caller's read): stale, it is a 412.


@router.post("/surgeries/{surgery_id}/reschedule", response_model=SurgeryOut,
             dependencies=[access.surgery(access.PLAN_ACTIVITIES)], responses=change_responses())
async def reschedule_surgery(surgery_id: uuid.UUID, body: SurgeryRescheduleIn, uow: UoW, bus: BusDep,
                             expected: IfMatchDep, response: Response) -> SurgeryOut:
    cmd = RescheduleSurgery(surgery_id=surgery_id, **body.model_dump(), expected=expected)
    return tagged(response, SurgeryOut.of(await bus.handle(cmd, uow)))


@router.post("/surgeries/{surgery_id}/lead", response_model=SurgeryOut,
             summary="Another surgeon of the team leads it (before it starts), with a reason",
             dependencies=[access.surgery(access.PLAN_ACTIVITIES)], responses=change_responses())
async def change_lead_surgeon(surgery_id: uuid.UUID, body: LeadSurgeonIn, uow: UoW, bus: BusDep,
                              expected: IfMatchDep, response: Response) -> SurgeryOut:
    cmd = ChangeLeadSurgeon(surgery_id, body.lead_surgeon_id, body.reason, expected=expected)
    return tagged(response, SurgeryOut.of(await bus.handle(cmd, uow)))


@router.post("/surgeries/{surgery_id}/cancel", response_model=SurgeryOut,
             summary="Cancel; the case goes back to the waiting list",
             dependencies=[access.surgery(access.PLAN_ACTIVITIES)], responses=change_responses())
async def cancel_surgery(surgery_id: uuid.UUID, body: ReasonIn, uow: UoW, bus: BusDep, expected: IfMatchDep,
                         response: Response) -> SurgeryOut:
    cmd = CancelSurgery(surgery_id, body.reason, expected=expected)
    return tagged(response, SurgeryOut.of(await bus.handle(cmd, uow)))


@router.post("/surgeries/{surgery_id}/start", response_model=SurgeryOut,
             dependencies=[access.surgery(access.RECORD_OUTCOMES)], responses=change_responses())
async def start_surgery(surgery_id: uuid.UUID, uow: UoW, bus: BusDep, expected: IfMatchDep, response: Response,
                        body: SurgeryStartIn | None = None) -> SurgeryOut:
    cmd = StartSurgery(surgery_id, body.started_at if body else None, expected=expected)
    return tagged(response, SurgeryOut.of(await bus.handle(cmd, uow)))


@router.post("/surgeries/{surgery_id}/complete", response_model=SurgeryOut,
             dependencies=[access.surgery(access.RECORD_OUTCOMES)], responses=change_responses())
async def complete_surgery(surgery_id: uuid.UUID, body: SurgeryCompleteIn, uow: UoW, bus: BusDep,
                           expected: IfMatchDep, response: Response) -> SurgeryOut:
    parts = None if body.local_roles is None else tuple(r.part() for r in body.local_roles)
    cmd = CompleteSurgery(surgery_id=surgery_id, outcome=body.outcome, duration_minutes=body.duration_minutes,
                          completed_at=body.completed_at, local_roles=parts, expected=expected)
    return tagged(response, SurgeryOut.of(await bus.handle(cmd, uow)))


@router.put("/surgeries/{surgery_id}/local-roles", response_model=SurgeryOut,
            summary="The host's practitioners' parts in it (the whole list), before it is completed",
            dependencies=[access.surgery(access.PLAN_ACTIVITIES)], responses=change_responses())
async def set_local_roles(surgery_id: uuid.UUID, body: LocalRolesIn, uow: UoW, bus: BusDep,
                          expected: IfMatchDep, response: Response) -> SurgeryOut:
    cmd = SetLocalRoles(surgery_id, tuple(r.part() for r in body.local_roles), expected=expected)
    return tagged(response, SurgeryOut.of(await bus.handle(cmd, uow)))


@router.post("/surgeries/{surgery_id}/follow-up", response_model=SurgeryOut,
             summary="Thirty days after: how the patient is (the host's clinicians)",
             dependencies=[access.surgery(access.RECORD_OUTCOMES)], responses=change_responses())
async def follow_up_surgery(surgery_id: uuid.UUID, body: FollowUpIn, uow: UoW, bus: BusDep,
                            expected: IfMatchDep, response: Response) -> SurgeryOut:
    cmd = FollowUpSurgery(surgery_id, body.outcome, expected=expected)
    return tagged(response, SurgeryOut.of(await bus.handle(cmd, uow)))
