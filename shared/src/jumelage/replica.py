"""The replica of institutions that a service keeps from the convention service's events.

Scheduling and notification each keep the institutions they have heard of
(``InstitutionRegistered``, then ``InstitutionUpdated`` with the whole new state), in a
table ``institution`` of their own database, and serve them read-only. The pieces:

* :class:`KnownInstitution`: the domain record (pure);
* :func:`institution_table`: the table, defined on the service's ``MetaData`` (the
  service's other tables may reference ``institution.id``; the migrations that made it
  stay the service's own);
* :class:`Institutions`: the repository (Core statements, so two services in one process
  never map one class twice);
* :func:`record_institution`: the upsert handler for both events (a later state is never
  undone by an older event arriving late);
* :data:`HANDLERS`: its read queries (:class:`ListInstitutions`, :class:`GetInstitution`),
  for the service's message bus;
* :func:`institutions_router`: ``GET /institutions`` and ``GET /institutions/{id}``, through
  the bus like every other read.

A service uses it so::

    # store/tables.py
    INSTITUTIONS = institution_table(Table.metadata)
    # store/__init__.py, in the unit of work's __aenter__
    self.institutions = Institutions(self.session, INSTITUTIONS)
    # subscribers.py
    EVENTS = {InstitutionRegistered: record_institution, InstitutionUpdated: record_institution, ...}
    # handlers/__init__.py
    HANDLERS = {**replica.HANDLERS, ...}
    # api/__init__.py
    routers = [institutions_router(tags=[...]), ...]

A service that does more on these events (notification notifies their subscribers) calls
:func:`record_institution` from its own handler, then does the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Table, Uuid, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jumelage.columns import UtcDateTime
from jumelage.db import UnitOfWork
from jumelage.errors import NotFound
from jumelage.events import CloudEvent, InstitutionRegistered
from jumelage.logging import get_logger
from jumelage.service import BusDep, unit_of_work

log = get_logger(__name__)


@dataclass
class KnownInstitution:
    id: uuid.UUID
    name: str
    kind: str
    country: str
    city: str


def institution_table(metadata: MetaData, name: str = "institution") -> Table:
    """The replica's table on ``metadata``, as the services' migrations made it."""
    return Table(
        name, metadata,
        Column("id", Uuid(), primary_key=True),
        Column("name", String(300), nullable=False),
        Column("kind", String(40), nullable=False),
        Column("country", String(2), nullable=False),
        Column("city", String(200), nullable=False),
        Column("registered_by_event", Uuid(), nullable=False),
        Column("as_of", UtcDateTime(), nullable=True),  # the time of the event it was last written from
    )


class Institutions:
    def __init__(self, session: AsyncSession, table: Table) -> None:
        self.session, self.table = session, table

    async def save(self, institution: KnownInstitution, *, event_id: uuid.UUID, as_of: datetime) -> bool:
        """Upsert from an event stating the whole of it at ``as_of``. False, and nothing
        written, if the replica already holds a later state (an older event arriving late,
        after a retry, does not undo a newer one)."""
        t = self.table
        row = (await self.session.execute(select(t.c.as_of).where(t.c.id == institution.id).with_for_update())).first()
        values = {"name": institution.name, "kind": institution.kind, "country": institution.country,
                  "city": institution.city, "as_of": as_of}
        if row is None:
            await self.session.execute(insert(t).values(id=institution.id, registered_by_event=event_id, **values))
            return True
        if row.as_of is not None and as_of < row.as_of:
            log.info("older event not applied: the replica holds a later state", replica=t.name,
                     key=str(institution.id), event_time=as_of.isoformat(), replica_time=row.as_of.isoformat())
            return False
        await self.session.execute(update(t).where(t.c.id == institution.id).values(**values))
        return True

    async def get(self, institution_id: uuid.UUID) -> KnownInstitution | None:
        row = (await self.session.execute(select(*self._columns).where(self.table.c.id == institution_id))).first()
        return KnownInstitution(*row) if row else None

    async def all(self) -> list[KnownInstitution]:
        rows = await self.session.execute(select(*self._columns).order_by(self.table.c.name))
        return [KnownInstitution(*r) for r in rows.all()]

    async def names(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        wanted = [i for i in ids if i]
        if not wanted:
            return {}
        t = self.table
        rows = await self.session.execute(select(t.c.id, t.c.name).where(t.c.id.in_(wanted)))
        return {i: n for i, n in rows.all()}

    @property
    def _columns(self) -> Sequence[Any]:
        c = self.table.c
        return (c.id, c.name, c.kind, c.country, c.city)


class HasInstitutions(Protocol):
    institutions: Institutions


async def record_institution(event: CloudEvent[InstitutionRegistered], uow: HasInstitutions) -> None:
    """``InstitutionRegistered`` and ``InstitutionUpdated`` (the whole new state): upsert."""
    data = event.data
    await uow.institutions.save(
        KnownInstitution(id=data.institution_id, name=data.name, kind=data.kind.value, country=data.country,
                         city=data.city),
        event_id=event.id, as_of=event.time,
    )


@dataclass(frozen=True)
class ListInstitutions:
    """Every institution known here, by name."""


@dataclass(frozen=True)
class GetInstitution:
    institution_id: uuid.UUID


async def list_institutions(_query: ListInstitutions, uow: Any) -> list[KnownInstitution]:
    async with uow:
        return await uow.institutions.all()


async def get_institution(query: GetInstitution, uow: Any) -> KnownInstitution:
    async with uow:
        institution = await uow.institutions.get(query.institution_id)
    if institution is None:
        raise NotFound(f"no institution {query.institution_id} known here")
    return institution


HANDLERS = {ListInstitutions: list_institutions, GetInstitution: get_institution}


# -- the read API --------------------------------------------------------------------------------


_UoW = Annotated[UnitOfWork, Depends(unit_of_work)]  # the service's own unit of work (with ``institutions``)


class KnownInstitutionOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    country: str
    city: str


def institutions_router(*, tags: list[str]) -> APIRouter:
    """``GET /institutions`` (by name) and ``GET /institutions/{id}``, for anyone the service lets in."""
    router = APIRouter(prefix="/institutions", tags=tags)  # type: ignore[arg-type]

    @router.get("", response_model=list[KnownInstitutionOut], summary="Institutions known to this service")
    async def list_institutions(uow: _UoW, bus: BusDep) -> list[KnownInstitutionOut]:
        return [KnownInstitutionOut(**vars(i)) for i in await bus.handle(ListInstitutions(), uow)]

    @router.get("/{institution_id}", response_model=KnownInstitutionOut)
    async def get_institution(institution_id: uuid.UUID, uow: _UoW, bus: BusDep) -> KnownInstitutionOut:
        return KnownInstitutionOut(**vars(await bus.handle(GetInstitution(institution_id), uow)))

    return router
