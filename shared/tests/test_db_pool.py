"""The PostgreSQL connection pool pings a connection only after it sat idle
(``jumelage.db._ping_after_idle``), against the real server: the backend of a
pooled connection is terminated from another session, as a restart would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from jumelage import db
from jumelage.testkit.servers import plain_pg as _plain_pg


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[Any]:
    engine = db.create_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def pings(engine: Any) -> list[str]:
    """The statements sent by ``do_ping`` are not cursor executions: count the pings themselves."""
    seen: list[str] = []
    original = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        seen.append("ping")
        return original(dbapi_connection)

    engine.dialect.do_ping = counting
    return seen


async def backend_pid(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def terminate(postgres_url: str, pid: int) -> None:
    conn = await asyncpg.connect(_plain_pg(postgres_url))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_a_connection_used_a_moment_ago_is_not_pinged(engine: Any, pings: list[str]) -> None:
    first = await backend_pid(engine)
    second = await backend_pid(engine)
    assert second == first, "the same pooled connection"
    assert pings == []


async def test_a_connection_lost_while_idle_is_replaced_before_use(
    engine: Any, pings: list[str], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)
    lost = await backend_pid(engine)
    await terminate(postgres_url, lost)

    replaced = await backend_pid(engine)  # no error: the ping failed, the pool connected again

    assert replaced != lost
    assert pings == ["ping"]


async def test_a_connection_lost_within_the_idle_window_fails_once_then_the_pool_reconnects(
    engine: Any, pings: list[str], postgres_url: str
) -> None:
    invalidated: list[bool] = []
    event.listen(engine.sync_engine, "handle_error", lambda ctx: invalidated.append(ctx.is_disconnect))
    lost = await backend_pid(engine)
    await terminate(postgres_url, lost)

    with pytest.raises(DBAPIError) as failure:
        await backend_pid(engine)
    assert failure.value.connection_invalidated, "what the consumer reads to hold the event, not spend a retry"

    assert await backend_pid(engine) != lost
    assert invalidated == [True]
    assert pings == []


async def test_a_service_keeps_its_pool_of_connections_under_load(database: Any, tmp_path: Any) -> None:
    """Twenty transactions at once, twice, on a service's engine (DATABASE_POOL_SIZE 8): eight
    connections are opened, once; none is opened and closed again per transaction past the
    fifth, as SQLAlchemy's default pool (5, and 10 of overflow) did (issue 23), on SQLite and
    PostgreSQL."""
    import asyncio

    from jumelage.service import ServiceRuntime
    from jumelage.settings import ServiceSettings
    from jumelage.testkit.client import TEST_AUTH_SECRET

    runtime = ServiceRuntime(ServiceSettings(service_name="pooled", auth_secret=TEST_AUTH_SECRET, data_dir=tmp_path,
                                             database_pool_size=8, **database.settings()))
    opened: list[int] = []
    event.listen(runtime.engine.sync_engine, "connect", lambda *_: opened.append(1))
    all_busy = asyncio.Event()  # the first eight hold their connections until all eight are out

    async def one() -> None:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            if runtime.engine.pool.checkedout() == 8:
                all_busy.set()
            await all_busy.wait()

    try:
        for _ in range(2):
            await asyncio.gather(*(one() for _ in range(20)))
        assert len(opened) == 8
        assert runtime.engine.pool.checkedin() == 8
    finally:
        await runtime.engine.dispose()
