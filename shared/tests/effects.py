"""What the messaging tests' handlers do: count the events they saw per key in an
``effect`` table, next to the outbox and inbox. Shared by the consumer and relay tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Column, Integer, String, func, select
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from jumelage.db import UnitOfWork, create_engine, session_factory
from jumelage.messaging.tables import InboxRecord, OutboxRecord


class Base(SQLModel, registry=registry()):
    pass


class Effect(Base, table=True):
    __tablename__ = "effect"
    key: str = Field(sa_column=Column(String(100), primary_key=True))
    count: int = Field(sa_column=Column(Integer, nullable=False))


@asynccontextmanager
async def effect_sessions(url: str, schema: str | None = None) -> AsyncIterator[Any]:
    """A session factory on a database holding the outbox, the inbox and the effect table."""
    engine = create_engine(url, schema=schema)
    async with engine.begin() as conn:
        for table in (OutboxRecord.__table__, InboxRecord.__table__, Effect.__table__):
            await conn.run_sync(table.create)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def bump(uow: UnitOfWork, key: str) -> None:
    row = await uow.session.get(Effect, key)
    if row is None:
        uow.session.add(Effect(key=key, count=1))
    else:
        row.count += 1


async def effect_of(sessions: Any, key: str) -> int:
    async with sessions() as s:
        row = await s.get(Effect, key)
        return row.count if row else 0


async def effects(sessions: Any) -> dict[str, int]:
    async with sessions() as s:
        return {r.key: r.count for r in await s.scalars(select(Effect))}


async def count_rows(sessions: Any, model: Any) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))
