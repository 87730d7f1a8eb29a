"""A read takes no write lock: a GET, and the access check of a changing request,
complete while another connection holds the database's write lock (SQLite's
file lock; on PostgreSQL an EXCLUSIVE lock on the table, which lets readers
through); the changing request's handler then waits for that lock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

import asyncpg
import httpx
import pytest
from effects import Effect, bump, effect_of
from fastapi import APIRouter, Depends
from sqlalchemy import select

from jumelage.audit import AuditRecord
from jumelage.auth import TokenVerifier
from jumelage.db import UnitOfWork
from jumelage.idempotency import IdempotencyRecord
from jumelage.messaging.tables import InboxRecord, OutboxRecord
from jumelage.service import ServiceRuntime, unit_of_work
from jumelage.settings import ServiceSettings
from jumelage.testkit.client import TEST_AUTH_SECRET, bearer
from jumelage.testkit.servers import Database
from jumelage.testkit.waiting import eventually, scaled

UoW = Annotated[UnitOfWork, Depends(unit_of_work)]
checked: list[str] = []  # keys whose access check has read


async def may_change(key: str, uow: UoW) -> None:
    """An access check: reads what it decides on, in a transaction of its own."""
    async with uow:
        await uow.session.scalar(select(Effect.count).where(Effect.key == key))
    checked.append(key)


def effects_router() -> APIRouter:
    router = APIRouter(prefix="/effects")

    @router.get("/{key}")
    async def read(key: str, uow: UoW) -> dict[str, Any]:
        async with uow:
            count = await uow.session.scalar(select(Effect.count).where(Effect.key == key))
        return {"count": count or 0}

    @router.post("/{key}", dependencies=[Depends(may_change)])
    async def change(key: str, uow: UoW) -> dict[str, Any]:
        async with uow:
            await bump(uow, key)
            await uow.commit()
        return {"changed": key}

    return router


@pytest.fixture
async def service(database: Database, tmp_path: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = ServiceSettings(service_name="effects", auth_secret=TEST_AUTH_SECRET, data_dir=tmp_path,
                               **database.settings())
    runtime = ServiceRuntime(settings)
    app = runtime.create_app([effects_router()])
    runtime.verifier = TokenVerifier(settings)  # no lifespan: no broker needed here
    async with runtime.engine.begin() as conn:
        for model in (Effect, OutboxRecord, InboxRecord, AuditRecord, IdempotencyRecord):
            await conn.run_sync(model.__table__.create)
    checked.clear()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://effects",
                                     headers=bearer("coordinator")) as client:
            yield runtime, client
    finally:
        await runtime.engine.dispose()


@asynccontextmanager
async def write_lock_held(database: Database) -> AsyncIterator[None]:
    """Another connection holds the write lock until the block ends."""
    if database.kind == "sqlite":
        with _sqlite_writer(database.url.split("///", 1)[1]):
            yield
        return
    conn = await asyncpg.connect(database.url.replace("+asyncpg", ""),
                                 server_settings={"search_path": database.schema or "public"})
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE effect IN EXCLUSIVE MODE")  # writers wait, readers do not
            yield
    finally:
        await conn.close()


@contextmanager
def _sqlite_writer(path: str) -> Iterator[None]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")  # the file's write lock
        conn.execute("INSERT INTO effect (key, count) VALUES ('held', 1)")
        yield
        conn.execute("COMMIT")
    finally:
        conn.close()


async def test_a_read_completes_while_another_connection_holds_the_write_lock(
        service: tuple[Any, httpx.AsyncClient], database: Database) -> None:
    runtime, client = service
    async with runtime.sessions() as s, s.begin():
        s.add(Effect(key="a", count=3))
    async with write_lock_held(database):
        # Far below SQLite's busy_timeout (30 s): a read that waited for the lock would time out here.
        response = await asyncio.wait_for(client.get("/effects/a"), timeout=scaled(5))
    assert response.status_code == 200 and response.json() == {"count": 3}


async def test_a_changing_requests_access_check_reads_without_the_lock_its_handler_takes_it(
        service: tuple[Any, httpx.AsyncClient], database: Database) -> None:
    runtime, client = service
    async with write_lock_held(database):
        change = asyncio.create_task(client.post("/effects/b"))
        await eventually(lambda: checked == ["b"], timeout=scaled(5))  # the check read under the held lock
        await asyncio.sleep(0)
        assert not change.done()  # the handler waits for the write lock
    response = await asyncio.wait_for(change, timeout=scaled(30))
    assert response.status_code == 200 and response.json() == {"changed": "b"}
    assert await effect_of(runtime.sessions, "b") == 1
    async with runtime.sessions() as s:  # the change is audited, as any through the API
        assert [r.action for r in (await s.execute(select(AuditRecord))).scalars()] == ["POST /effects/{key}"]
