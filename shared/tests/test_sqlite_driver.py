"""The SQLite driver of every engine (``jumelage.sqlite_driver``): one hop to the driver's
thread per statement, the transaction's BEGIN in its first statement's hop, none for a
COMMIT or ROLLBACK with nothing open; and everything else as SQLAlchemy's own adapter:
rows, counts, ids, errors, the write lock, the read snapshot."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from jumelage.db import UnitOfWork, create_engine, read_session_factory, session_factory


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every call made on an aiosqlite connection's thread, by name."""
    made: list[str] = []
    original = aiosqlite.core.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    yield made


async def test_a_read_unit_of_work_with_one_statement_makes_two_hops(engine: AsyncEngine, hops: list[str]) -> None:
    uow = UnitOfWork(read_session_factory(engine))
    async with uow:  # warm: the pool's connection is open
        await uow.session.execute(text("SELECT count(*) FROM item"))
    hops.clear()
    async with uow:
        assert (await uow.session.execute(text("SELECT count(*) FROM item"))).scalar() == 0
    # BEGIN and the statement in one, then ROLLBACK. SQLAlchemy's own adapter made 9: BEGIN in 3
    # (cursor, execute, close), the statement in 4 (and fetchall), a ROLLBACK for the session, one for the pool.
    assert len(hops) == 2, hops


async def test_a_transaction_that_runs_nothing_sends_nothing(engine: AsyncEngine, hops: list[str]) -> None:
    for sessions in (session_factory(engine), read_session_factory(engine)):
        async with sessions() as session, session.begin():
            await session.connection()  # begun (the begin event has run), no statement yet
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
        hops.clear()
        async with sessions() as session, session.begin():
            await session.connection()
        assert hops == []


async def test_rows_counts_ids_and_many(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session, session.begin():
        first = await session.execute(text("INSERT INTO item (name) VALUES ('a')"))
        assert first.lastrowid == 1
        await session.execute(text("INSERT INTO item (name) VALUES (:name)"), [{"name": n} for n in "bcd"])
        changed = await session.execute(text("UPDATE item SET name = name || '!' WHERE id > 1"))
        assert changed.rowcount == 3
        rows = (await session.execute(text("SELECT id, name FROM item ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b!"), (3, "c!"), (4, "d!")]
        assert (await session.execute(text("SELECT name FROM item WHERE id = 9"))).first() is None
    async with session_factory(engine)() as session:
        assert (await session.execute(text("SELECT count(*) FROM item"))).scalar() == 4  # committed


async def test_an_error_is_sqlalchemys_and_the_connection_goes_on(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await session.execute(text("INSERT INTO item (name) VALUES ('a')"))
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO item (name) VALUES ('b')"))
            await session.execute(text("INSERT INTO item (name) VALUES ('a')"))
    async with sessions() as session:  # 'b' rolled back with the failed transaction; the pool's connection works
        names = (await session.execute(text("SELECT name FROM item ORDER BY name"))).scalars().all()
        assert names == ["a"]
    with pytest.raises(OperationalError):
        async with sessions() as session:
            await session.execute(text("SELECT nothing FROM nowhere"))


async def test_a_write_transaction_holds_the_lock_from_its_first_statement(engine: AsyncEngine,
                                                                          tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "driver.db", timeout=0, isolation_level=None)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(text("SELECT count(*) FROM item"))  # BEGIN IMMEDIATE went with it
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at the end
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_read_transaction_reads_one_snapshot(engine: AsyncEngine, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    try:
        async with read_session_factory(engine)() as session, session.begin():
            assert (await session.execute(text("SELECT count(*) FROM item"))).scalar() == 0
            other.execute("INSERT INTO item (name) VALUES ('x')")  # committed by another connection
            assert (await session.execute(text("SELECT count(*) FROM item"))).scalar() == 0
        async with read_session_factory(engine)() as session, session.begin():
            assert (await session.execute(text("SELECT count(*) FROM item"))).scalar() == 1
    finally:
        other.close()
