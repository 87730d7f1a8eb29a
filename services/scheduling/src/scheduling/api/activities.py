"""Consultations and training sessions of a mission."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.cases import CaseIn
from scheduling.api.common import Body, Instant
from scheduling.domain.activities import ActivityStatus, Consultation, TrainingSession
from scheduling.domain.commands import (
    GetConsultation,
    GetTrainingSession,
    HoldConsultation,
    HoldTraining,
    MissionConsultations,
    MissionTraining,
    ScheduleConsultation,
    ScheduleTraining,
)
from scheduling.domain.missions import Mission
from jumelage.auth import CallerDep
from jumelage.service import BusDep

router = APIRouter(tags=["consultations and training"])


class ConsultationIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"scheduled_at": "2030-06-10T14:00:00+01:00", "case_id": "6d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d"}]})

    scheduled_at: Instant
    case_id: uuid.UUID | None = Field(default=None, description="a case on the waiting list of a host site")
    new_patient: CaseIn | None = Field(default=None, description="or a new patient, registered as a case")
    site_institution_id: uuid.UUID | None = Field(
        default=None, description="the host site a new patient is registered at; default: the mission's host")


class HoldConsultationIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"held_at": "2030-06-10T14:40:00+01:00"}]})

    held_at: Instant | None = Field(default=None, description="default: now")


class ConsultationOut(BaseModel):
    id: uuid.UUID
    mission_id: uuid.UUID
    case_id: uuid.UUID
    patient_ref: str
    specialty: str
    scheduled_at: datetime
    status: ActivityStatus
    on_hold: bool = Field(description="scheduled, waiting with its mission (on hold): its time is kept")
    held_at: datetime | None
    site_institution_id: uuid.UUID = Field(description="the host site it takes place at (its case's institution)")

    @classmethod
    def of(cls, c: Consultation) -> ConsultationOut:
        return cls.model_validate(c, from_attributes=True)


class TrainingIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"topic": "Post-operative care after arterial switch", "scheduled_at": "2030-06-11T16:00:00+01:00",
         "hours": 2.5}]})

    topic: str = Field(min_length=1, max_length=300)
    scheduled_at: Instant
    hours: float = Field(gt=0, le=24)
    site_institution_id: uuid.UUID | None = Field(
        default=None, description="the host site it is held at (one of the mission's sites, on its days there); "
                                  "default: the mission's host")


class HoldTrainingIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"trainee_count": 12, "hours": 2.5, "held_at": "2030-06-11T18:30:00+01:00"}]})

    trainee_count: int = Field(ge=0, le=10_000)
    hours: float | None = Field(default=None, gt=0, le=24, description="default: as planned")
    held_at: Instant | None = Field(default=None, description="default: now")


class TrainingOut(BaseModel):
    id: uuid.UUID
    mission_id: uuid.UUID
    topic: str
    scheduled_at: datetime
    hours: float
    status: ActivityStatus
    held_at: datetime | None
    trainee_count: int | None
    site_institution_id: uuid.UUID = Field(description="the host site it is held at")

    @classmethod
    def of(cls, t: TrainingSession, mission: Mission | None = None) -> TrainingOut:
        out = cls.model_validate({**t.__dict__, "site_institution_id": t.site_institution_id
                                  or (mission.host_institution_id if mission else None)})
        return out


# -- consultations -----------------------------------------------------------------------------


@router.post("/missions/{mission_id}/consultations", status_code=201, response_model=ConsultationOut,
             summary="Plan a consultation (a waiting case, or a new patient)")
async def schedule_consultation(mission_id: uuid.UUID, body: ConsultationIn, uow: UoW, bus: BusDep,
                                caller: CallerDep,
                                mission: Annotated[Mission, access.mission(access.PLAN_ACTIVITIES)]) -> ConsultationOut:
    if body.new_patient is not None:
        access.registering_patient(caller, body.site_institution_id or mission.host_institution_id)
    cmd = ScheduleConsultation(mission_id=mission_id, scheduled_at=body.scheduled_at, case_id=body.case_id,
                               new_patient=body.new_patient.command() if body.new_patient else None,
                               site_institution_id=body.site_institution_id,
                               at_sites=access.sites_for(caller, mission, access.PLAN_ACTIVITIES))
    return ConsultationOut.of(await bus.handle(cmd, uow))


@router.get("/missions/{mission_id}/consultations", response_model=list[ConsultationOut])
async def list_consultations(mission_id: uuid.UUID, uow: UoW, bus: BusDep, caller: CallerDep,
                             mission: Annotated[Mission, access.mission(access.READ)]) -> list[ConsultationOut]:
    # The access check has found the mission (else 404); a site's own see their site's.
    sites = access.sites_for(caller, mission, access.READ)
    return [ConsultationOut.of(c) for c in await bus.handle(MissionConsultations(mission_id), uow)
            if sites is None or c.site_institution_id in sites]


@router.get("/consultations/{consultation_id}", response_model=ConsultationOut,
            dependencies=[access.consultation(access.READ)])
async def get_consultation(consultation_id: uuid.UUID, uow: UoW, bus: BusDep) -> ConsultationOut:
    return ConsultationOut.of(await bus.handle(GetConsultation(consultation_id), uow))


@router.post("/consultations/{consultation_id}/hold", response_model=ConsultationOut,
             summary="Record the consultation as held", dependencies=[access.consultation(access.PLAN_ACTIVITIES)])
async def hold_consultation(consultation_id: uuid.UUID, uow: UoW, bus: BusDep,
                            body: HoldConsultationIn | None = None) -> ConsultationOut:
    cmd = HoldConsultation(consultation_id, body.held_at if body else None)
    return ConsultationOut.of(await bus.handle(cmd, uow))


# -- training ------------------------------------------------------------------------------------


@router.post("/missions/{mission_id}/training-sessions", status_code=201, response_model=TrainingOut,
             summary="Plan a training session (at one of the mission's sites)")
async def schedule_training(mission_id: uuid.UUID, body: TrainingIn, uow: UoW, bus: BusDep, caller: CallerDep,
                            mission: Annotated[Mission, access.mission(access.PLAN_TRAINING)]) -> TrainingOut:
    cmd = ScheduleTraining(mission_id=mission_id, **body.model_dump(),
                           at_sites=access.sites_for(caller, mission, access.PLAN_TRAINING))
    return TrainingOut.of(await bus.handle(cmd, uow), mission)


@router.get("/missions/{mission_id}/training-sessions", response_model=list[TrainingOut])
async def list_training(mission_id: uuid.UUID, uow: UoW, bus: BusDep, caller: CallerDep,
                        mission: Annotated[Mission, access.mission(access.READ)]) -> list[TrainingOut]:
    # The access check has found the mission (else 404); a site's own see their site's.
    sites = access.sites_for(caller, mission, access.READ)
    return [TrainingOut.of(t, mission) for t in await bus.handle(MissionTraining(mission_id), uow)
            if sites is None or (t.site_institution_id or mission.host_institution_id) in sites]


@router.get("/training-sessions/{training_session_id}", response_model=TrainingOut,
            dependencies=[access.training_session(access.READ)])
async def get_training(training_session_id: uuid.UUID, uow: UoW, bus: BusDep) -> TrainingOut:
    return TrainingOut.of(await bus.handle(GetTrainingSession(training_session_id), uow))


@router.post("/training-sessions/{training_session_id}/hold", response_model=TrainingOut,
             summary="Record the session as held, with its trainees",
             dependencies=[access.training_session(access.PLAN_TRAINING)])
async def hold_training(training_session_id: uuid.UUID, body: HoldTrainingIn, uow: UoW,
                        bus: BusDep) -> TrainingOut:
    cmd = HoldTraining(training_session_id=training_session_id, **body.model_dump())
    return TrainingOut.of(await bus.handle(cmd, uow))
