"""Tables and the queries the handlers need (adapters: SQLModel on SQLite or PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Self

from sqlalchemy import Column, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from scheduling.domain.institutions import KnownInstitution
from jumelage.db import UnitOfWork


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, so the three services'
    tables never mix even when tests load them in one process."""


class InstitutionRow(Table, table=True):
    __tablename__ = "institution"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    country: str = Field(sa_column=Column(String(2), nullable=False))
    city: str = Field(sa_column=Column(String(200), nullable=False))
    registered_by_event: uuid.UUID

    def to_domain(self) -> KnownInstitution:
        return KnownInstitution(id=self.id, name=self.name, kind=self.kind, country=self.country, city=self.city)


class Institutions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(self, institution: KnownInstitution, *, event_id: uuid.UUID) -> None:
        row = await self.session.get(InstitutionRow, institution.id)
        if row is None:
            row = InstitutionRow(id=institution.id, registered_by_event=event_id, name="", kind="", country="", city="")
            self.session.add(row)
        row.name, row.kind, row.country, row.city = (
            institution.name, institution.kind, institution.country, institution.city
        )

    async def get(self, institution_id: uuid.UUID) -> KnownInstitution | None:
        row = await self.session.get(InstitutionRow, institution_id)
        return row.to_domain() if row else None

    async def all(self) -> list[KnownInstitution]:
        return [r.to_domain() for r in await self.session.scalars(select(InstitutionRow).order_by(InstitutionRow.name))]


class SchedulingUnitOfWork(UnitOfWork):
    institutions: Institutions

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.institutions = Institutions(self.session)
        return self
