"""/institutions: register, correct, read and search the directory of institutions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from convention import access
from convention.access import UoW
from convention.domain.commands import GetInstitution, RegisterInstitution, SearchInstitutions, UpdateInstitution
from convention.domain.institutions import Institution
from jumelage.api import Command as Body  # unknown fields refused, strings stripped, floats finite (README: Input rules)
from jumelage.api import Limit, Offset, Patch, clearable
from jumelage.events.convention import InstitutionKind
from jumelage.service import BusDep

COUNTRY = Field(pattern=r"^[A-Za-z]{2}$", min_length=2, max_length=2, description="ISO 3166-1 alpha-2",
                examples=["DZ"])

router = APIRouter(prefix="/institutions", tags=["institutions"])


class InstitutionIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "CMCI Bousmail", "kind": "clinic", "country": "DZ", "city": "Bou Ismaïl", "wilaya": "Tipaza"}]})

    name: str = Field(min_length=1, max_length=300, examples=["CMCI Bousmail"])
    kind: InstitutionKind
    country: str = COUNTRY
    city: str = Field(min_length=1, max_length=200, examples=["Bou Ismaïl"])
    wilaya: str | None = Field(default=None, max_length=100, examples=["Tipaza"])


class InstitutionPatch(Patch):
    model_config = ConfigDict(json_schema_extra={"examples": [{"city": "Bou Ismaïl", "wilaya": "Tipaza"}]})

    name: str | None = Field(default=None, min_length=1, max_length=300)
    kind: InstitutionKind | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$", min_length=2, max_length=2)
    city: str | None = Field(default=None, min_length=1, max_length=200)
    wilaya: str | None = clearable(max_length=100)


class InstitutionOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: InstitutionKind
    country: str
    city: str
    wilaya: str | None
    registered_at: datetime

    @classmethod
    def of(cls, i: Institution) -> InstitutionOut:
        return cls(id=i.id, name=i.name, kind=i.kind, country=i.country, city=i.city, wilaya=i.wilaya,
                   registered_at=i.registered_at)


class InstitutionPage(BaseModel):
    items: list[InstitutionOut]
    total: int
    limit: int
    offset: int


@router.post("", status_code=201, response_model=InstitutionOut, summary="Register an institution",
             dependencies=[access.ADMINISTRATOR])
async def register_institution(body: InstitutionIn, uow: UoW, bus: BusDep) -> InstitutionOut:
    return InstitutionOut.of(await bus.handle(RegisterInstitution(**body.model_dump()), uow))


@router.patch("/{institution_id}", response_model=InstitutionOut, summary="Correct an institution",
              dependencies=[access.ADMINISTRATOR])
async def update_institution(institution_id: uuid.UUID, body: InstitutionPatch, uow: UoW,
                             bus: BusDep) -> InstitutionOut:
    cmd = UpdateInstitution(institution_id=institution_id, changes=body.changes())
    return InstitutionOut.of(await bus.handle(cmd, uow))


@router.get("/{institution_id}", response_model=InstitutionOut)
async def get_institution(institution_id: uuid.UUID, uow: UoW, bus: BusDep) -> InstitutionOut:
    return InstitutionOut.of(await bus.handle(GetInstitution(institution_id), uow))


@router.get("", response_model=InstitutionPage, summary="List and search institutions")
async def list_institutions(
    uow: UoW,
    bus: BusDep,
    kind: InstitutionKind | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$", min_length=2, max_length=2)] = None,
    wilaya: Annotated[str | None, Query(max_length=100)] = None,
    city: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[str | None, Query(max_length=300, description="part of the name")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> InstitutionPage:
    query = SearchInstitutions(kind=kind, country=country, wilaya=wilaya, city=city, name=name, limit=limit,
                               offset=offset)
    items, total = await bus.handle(query, uow)
    return InstitutionPage(items=[InstitutionOut.of(i) for i in items], total=total, limit=limit, offset=offset)
