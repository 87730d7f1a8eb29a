"""What this service knows of conventions (read-only: the convention service's events fill it)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from scheduling import access
from scheduling.access import UoW
from scheduling.domain.commands import GetConvention, ListConventions
from scheduling.domain.conventions import ConventionReplica
from jumelage.auth import CallerDep
from jumelage.service import BusDep

router = APIRouter(prefix="/conventions", tags=["conventions (replica)"])


class PartyOut(BaseModel):
    institution_id: uuid.UUID
    role: str


class ConventionOut(BaseModel):
    id: uuid.UUID
    reference: str | None
    title: str | None
    signed: bool
    status: str | None
    status_changed_at: datetime | None
    status_reason: str | None
    ended_on: date | None
    parties: list[PartyOut]
    effective_from: date | None
    effective_until: date | None
    specialties: list[str]

    @classmethod
    def of(cls, c: ConventionReplica) -> ConventionOut:
        return cls(id=c.id, reference=c.reference, title=c.title, signed=c.signed,
                   status=c.status.value if c.status else None, status_changed_at=c.status_changed_at,
                   status_reason=c.status_reason, ended_on=c.ended_on,
                   parties=[PartyOut(institution_id=p.institution_id, role=p.role.value) for p in c.parties],
                   effective_from=c.effective_from, effective_until=c.effective_until,
                   specialties=list(c.specialties))


@router.get("", response_model=list[ConventionOut], summary="Conventions known to this service")
async def list_conventions(uow: UoW, caller: CallerDep, bus: BusDep,
                           party: uuid.UUID | None = None) -> list[ConventionOut]:
    access.conventions_reader(caller, party)
    return [ConventionOut.of(c) for c in await bus.handle(ListConventions(party), uow)
            if access.convention_visible(caller, c)]


@router.get("/{convention_id}", response_model=ConventionOut)
async def get_convention(convention_id: uuid.UUID, uow: UoW, caller: CallerDep, bus: BusDep) -> ConventionOut:
    access.conventions_reader(caller)
    convention = await bus.handle(GetConvention(convention_id), uow)
    return ConventionOut.of(access.convention_reader(caller, convention))
