"""HTTP API: body -> command -> handler -> response; nothing else."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from scheduling.store import SchedulingUnitOfWork
from jumelage.errors import NotFound
from jumelage.service import unit_of_work

router = APIRouter(prefix="/institutions", tags=["institutions"])
UoW = Annotated[SchedulingUnitOfWork, Depends(unit_of_work)]


class KnownInstitutionOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    country: str
    city: str


@router.get("", response_model=list[KnownInstitutionOut], summary="Institutions known to this service")
async def list_institutions(uow: UoW) -> list[KnownInstitutionOut]:
    async with uow:
        return [KnownInstitutionOut(**vars(i)) for i in await uow.institutions.all()]


@router.get("/{institution_id}", response_model=KnownInstitutionOut)
async def get_institution(institution_id: uuid.UUID, uow: UoW) -> KnownInstitutionOut:
    async with uow:
        institution = await uow.institutions.get(institution_id)
    if institution is None:
        raise NotFound(f"no institution {institution_id} known here")
    return KnownInstitutionOut(**vars(institution))
