"""Training placements: local staff of a beneficiary trained at a provider's hospital during the
year, outside any mission (observership or fellowship). Under a convention; its completion is
counted in the convention's progress (``TrainingPlacementCompleted``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.common import Body, ReasonIn
from scheduling.domain.commands import (
    CancelPlacement,
    CompletePlacement,
    ConventionPlacements,
    GetPlacement,
    PlanPlacement,
)
from scheduling.domain.placements import MAX_PLACEMENT_DAYS, MAX_TRAINEES, PlacementStatus, Trainee, TrainingPlacement
from jumelage.events.scheduling import PlacementKind
from jumelage.preconditions import read_responses
from jumelage.service import BusDep

router = APIRouter(tags=["training placements"])


class TraineeIn(Body):
    practitioner_id: uuid.UUID
    full_name: str = Field(min_length=1, max_length=300)


class PlacementIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "kind": "fellowship", "specialty": "paediatric cardiac surgery",
        "provider_institution_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "beneficiary_institution_id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
        "starts_on": "2030-09-02", "ends_on": "2030-10-25",
        "trainees": [{"practitioner_id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "full_name": "Dr Amel Benali"}]}]})

    kind: PlacementKind
    specialty: str = Field(min_length=1, max_length=200, description="one of the convention's")
    provider_institution_id: uuid.UUID = Field(description="the provider's hospital where they train")
    beneficiary_institution_id: uuid.UUID = Field(description="the beneficiary whose staff they are")
    starts_on: date
    ends_on: date
    trainees: list[TraineeIn] = Field(min_length=1, max_length=MAX_TRAINEES)


class CompletePlacementIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"days_spent": 40}]})

    days_spent: int = Field(gt=0, le=MAX_PLACEMENT_DAYS, description="days the trainees spent there")


class TraineeOut(BaseModel):
    practitioner_id: uuid.UUID
    full_name: str


class PlacementOut(BaseModel):
    id: uuid.UUID
    convention_id: uuid.UUID
    kind: PlacementKind
    specialty: str
    provider_institution_id: uuid.UUID
    beneficiary_institution_id: uuid.UUID
    starts_on: date
    ends_on: date
    trainees: list[TraineeOut]
    status: PlacementStatus
    status_reason: str | None
    days_spent: int | None
    completed_on: date | None
    created_at: datetime

    @classmethod
    def of(cls, p: TrainingPlacement) -> PlacementOut:
        return cls.model_validate(p, from_attributes=True)


@router.post("/conventions/{convention_id}/training-placements", status_code=201, response_model=PlacementOut,
             summary="Plan a training placement of the beneficiary's staff at the provider's hospital",
             dependencies=[access.convention_placements(change=True)], responses=read_responses(201))
async def plan_placement(convention_id: uuid.UUID, body: PlacementIn, uow: UoW, bus: BusDep) -> PlacementOut:
    cmd = PlanPlacement(convention_id=convention_id, kind=body.kind, specialty=body.specialty,
                        provider_institution_id=body.provider_institution_id,
                        beneficiary_institution_id=body.beneficiary_institution_id, starts_on=body.starts_on,
                        ends_on=body.ends_on,
                        trainees=tuple(Trainee(t.practitioner_id, t.full_name) for t in body.trainees))
    return PlacementOut.of(await bus.handle(cmd, uow))


@router.get("/conventions/{convention_id}/training-placements", response_model=list[PlacementOut],
            summary="A convention's training placements", dependencies=[access.convention_placements(change=False)])
async def list_placements(convention_id: uuid.UUID, uow: UoW, bus: BusDep) -> list[PlacementOut]:
    return [PlacementOut.of(p) for p in await bus.handle(ConventionPlacements(convention_id), uow)]


@router.get("/training-placements/{placement_id}", response_model=PlacementOut,
            dependencies=[access.placement(change=False)], responses=read_responses())
async def get_placement(placement_id: uuid.UUID, uow: UoW, bus: BusDep) -> PlacementOut:
    return PlacementOut.of(await bus.handle(GetPlacement(placement_id), uow))


@router.post("/training-placements/{placement_id}/complete", response_model=PlacementOut,
             summary="The placement took place: the days spent (counted in the convention's progress)",
             dependencies=[access.placement(change=True)], responses=read_responses())
async def complete_placement(placement_id: uuid.UUID, body: CompletePlacementIn, uow: UoW,
                             bus: BusDep) -> PlacementOut:
    return PlacementOut.of(await bus.handle(CompletePlacement(placement_id, body.days_spent), uow))


@router.post("/training-placements/{placement_id}/cancel", response_model=PlacementOut,
             summary="Cancel a planned placement", dependencies=[access.placement(change=True)],
             responses=read_responses())
async def cancel_placement(placement_id: uuid.UUID, body: ReasonIn, uow: UoW, bus: BusDep) -> PlacementOut:
    return PlacementOut.of(await bus.handle(CancelPlacement(placement_id, body.reason), uow))
