"""HTTP API: body -> command -> handler -> response; nothing else."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from convention import handlers
from convention.domain.institutions import Institution, RegisterInstitution
from convention.store import ConventionUnitOfWork
from jumelage.errors import NotFound
from jumelage.events.convention import InstitutionKind
from jumelage.service import unit_of_work

router = APIRouter(prefix="/institutions", tags=["institutions"])
UoW = Annotated[ConventionUnitOfWork, Depends(unit_of_work)]


class InstitutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=300, examples=["CMCI Bousmail"])
    kind: InstitutionKind
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2", examples=["DZ"])
    city: str = Field(min_length=1, max_length=200, examples=["Bou Ismaïl"])
    wilaya: str | None = Field(default=None, max_length=100, examples=["Tipaza"])


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


@router.post("", status_code=201, response_model=InstitutionOut, summary="Register an institution")
async def register_institution(body: InstitutionIn, uow: UoW) -> InstitutionOut:
    institution = await handlers.register_institution(RegisterInstitution(**body.model_dump()), uow)
    return InstitutionOut.of(institution)


@router.get("/{institution_id}", response_model=InstitutionOut)
async def get_institution(institution_id: uuid.UUID, uow: UoW) -> InstitutionOut:
    async with uow:
        institution = await uow.institutions.get(institution_id)
    if institution is None:
        raise NotFound(f"no institution {institution_id}")
    return InstitutionOut.of(institution)


@router.get("", response_model=InstitutionPage, summary="List and search institutions")
async def list_institutions(
    uow: UoW,
    kind: InstitutionKind | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    wilaya: str | None = None,
    city: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> InstitutionPage:
    async with uow:
        items, total = await uow.institutions.search(
            kind=kind.value if kind else None, country=country, wilaya=wilaya, city=city, limit=limit, offset=offset
        )
    return InstitutionPage(items=[InstitutionOut.of(i) for i in items], total=total, limit=limit, offset=offset)
