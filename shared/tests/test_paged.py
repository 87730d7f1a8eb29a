"""``jumelage.db.paged``: a page and the total in one statement, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from jumelage.db import create_engine, fetch_page, paged, read_session_factory
from jumelage.testkit.servers import Database

metadata = MetaData()
item = Table("paged_item", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)),
             Column("grp", String(20)))
ALL = paged(select(item.c.id, item.c.name), order_by=("name", "id"))
IN_GROUP = paged(select(item.c.id, item.c.name).where(item.c.grp == bindparam("grp")), order_by=("name", "id"))


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.url, schema=database.schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def page(engine: AsyncEngine, statement: Any, **params: Any) -> tuple[list[tuple[int, str]], int]:
    async with read_session_factory(engine)() as session:
        rows, total = await fetch_page(session, statement, **params)
    return [(r.id, r.name) for r in rows], total


async def test_an_empty_table_is_an_empty_page_of_none(engine: AsyncEngine) -> None:
    assert await page(engine, ALL, limit=50, offset=0) == ([], 0)


async def test_pages_in_order_with_the_total_also_past_the_end(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(item), [{"id": i, "name": n, "grp": g} for i, n, g in
                                          [(1, "e", "x"), (2, "b", "y"), (3, "d", "x"), (4, "b", "x"), (5, "a", "y")]])
    assert await page(engine, ALL, limit=2, offset=0) == ([(5, "a"), (2, "b")], 5)
    assert await page(engine, ALL, limit=2, offset=2) == ([(4, "b"), (3, "d")], 5)
    assert await page(engine, ALL, limit=2, offset=4) == ([(1, "e")], 5)
    assert await page(engine, ALL, limit=2, offset=9) == ([], 5)
    assert await page(engine, IN_GROUP, limit=2, offset=0, grp="x") == ([(4, "b"), (3, "d")], 3)
    assert await page(engine, IN_GROUP, limit=2, offset=5, grp="x") == ([], 3)
    assert await page(engine, IN_GROUP, limit=2, offset=0, grp="z") == ([], 0)
