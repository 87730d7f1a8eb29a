"""Tables and the queries the handlers need (adapters: SQLModel on SQLite or PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from sqlalchemy import Column, DateTime, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from convention.domain.institutions import Institution
from jumelage.db import UnitOfWork
from jumelage.events.convention import InstitutionKind


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, so the three services'
    tables never mix even when tests load them in one process."""


class InstitutionRow(Table, table=True):
    __tablename__ = "institution"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    country: str = Field(sa_column=Column(String(2), nullable=False))
    wilaya: str | None = Field(default=None, sa_column=Column(String(100)))
    city: str = Field(sa_column=Column(String(200), nullable=False))
    registered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))

    def to_domain(self) -> Institution:
        return Institution(id=self.id, name=self.name, kind=InstitutionKind(self.kind), country=self.country,
                           city=self.city, wilaya=self.wilaya, registered_at=self.registered_at)

    @classmethod
    def from_domain(cls, i: Institution) -> Self:
        return cls(id=i.id, name=i.name, kind=i.kind.value, country=i.country, wilaya=i.wilaya,
                   city=i.city, registered_at=i.registered_at)


class Institutions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, institution: Institution) -> None:
        self.session.add(InstitutionRow.from_domain(institution))

    async def get(self, institution_id: uuid.UUID) -> Institution | None:
        row = await self.session.get(InstitutionRow, institution_id)
        return row.to_domain() if row else None

    async def named(self, name: str, city: str) -> Institution | None:
        row = (
            await self.session.scalars(
                select(InstitutionRow).where(
                    func.lower(InstitutionRow.name) == name.strip().lower(),
                    func.lower(InstitutionRow.city) == city.strip().lower(),
                )
            )
        ).first()
        return row.to_domain() if row else None

    async def search(
        self,
        *,
        kind: str | None = None,
        country: str | None = None,
        wilaya: str | None = None,
        city: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Institution], int]:
        query = select(InstitutionRow)
        if kind:
            query = query.where(InstitutionRow.kind == kind)
        if country:
            query = query.where(InstitutionRow.country == country.upper())
        if wilaya:
            query = query.where(func.lower(InstitutionRow.wilaya) == wilaya.lower())
        if city:
            query = query.where(func.lower(InstitutionRow.city) == city.lower())
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(query.order_by(InstitutionRow.name).limit(limit).offset(offset))
        return [r.to_domain() for r in rows], int(total or 0)


class ConventionUnitOfWork(UnitOfWork):
    institutions: Institutions

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.institutions = Institutions(self.session)
        return self
