"""``/institutions``: the institutions known here (the replica, read only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from jumelage.service import BusDep
from notification.access import UoW
from notification.domain.commands import GetInstitution, ListInstitutions

institutions = APIRouter(prefix="/institutions", tags=["institutions"])


class KnownInstitutionOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    country: str
    city: str


@institutions.get("", response_model=list[KnownInstitutionOut], summary="Institutions known to this service")
async def list_institutions(uow: UoW, bus: BusDep) -> list[KnownInstitutionOut]:
    return [KnownInstitutionOut(**vars(i)) for i in await bus.handle(ListInstitutions(), uow)]


@institutions.get("/{institution_id}", response_model=KnownInstitutionOut)
async def get_institution(institution_id: uuid.UUID, uow: UoW, bus: BusDep) -> KnownInstitutionOut:
    return KnownInstitutionOut(**vars(await bus.handle(GetInstitution(institution_id), uow)))
